"""gridloop's gateway: one origin for the browser. It serves the built web front end (the
rider's app at ``/``, the staff console at ``/console/``), routes ``/api/<service>/…`` to the
four services unchanged (they verify every token themselves), and in development only mints
sign-in tokens for the demo roster. It owns no data and no topic."""
