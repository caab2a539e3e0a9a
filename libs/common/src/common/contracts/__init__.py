"""Public event contracts: the CloudEvents envelope (``envelope``), topic names (``topics``),
the event data models (``events``) and the default category catalogue (``catalogue``).

Other city systems read these topics; a model here changes only by adding a new version.
"""
