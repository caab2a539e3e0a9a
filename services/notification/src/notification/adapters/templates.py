"""District overrides of the message templates, read from a folder of TOML documents.

Each ``<district code>.toml`` in the folder words some templates its own way, per locale::

    ["zh-CN".report_closed]
    title = "您上报的问题已办结"
    body = "您上报的「{category_name}」问题（工单号 {work_order_id}）已办结，请评价。"

    [en.report_closed]
    title = "Your report was closed"
    body = "..."

A document naming an unknown template, or a template without both ``title`` and ``body``, is a
load error; so is a template naming a variable its event does not provide (checked by the
:class:`~notification.service_layer.notices.NoticeBook` made with the catalogue).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from notification.domain.messages import (
    ZH_CN,
    Template,
    TemplateCatalogue,
    TemplateError,
    TemplateId,
    TemplateSet,
)


def load_catalogue(overrides: Path | None = None, locale: str = ZH_CN) -> TemplateCatalogue:
    """The shipped templates with the district overrides found in ``overrides`` (if any)."""
    shipped = TemplateCatalogue.shipped(locale=locale)
    if overrides is None:
        return shipped
    if not overrides.is_dir():
        raise TemplateError(f"template overrides folder {overrides} does not exist")
    districts = {path.stem: _read(path) for path in sorted(overrides.glob("*.toml"))}
    return TemplateCatalogue(base=shipped.base, districts=districts, locale=locale)


def _read(path: Path) -> dict[str, TemplateSet]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise TemplateError(f"{path.name}: not TOML ({error})") from error
    locales: dict[str, TemplateSet] = {}
    for locale, templates in document.items():
        if not isinstance(templates, dict):
            raise TemplateError(f"{path.name}: [{locale}] is not a table of templates")
        parsed: dict[TemplateId, Template] = {}
        for name, fields in templates.items():
            try:
                template_id = TemplateId(name)
            except ValueError:
                raise TemplateError(f"{path.name}: [{locale}] no template {name}") from None
            if not (
                isinstance(fields, dict)
                and isinstance(fields.get("title"), str)
                and isinstance(fields.get("body"), str)
            ):
                raise TemplateError(
                    f"{path.name}: [{locale}] template {name} needs a title and a body"
                )
            parsed[template_id] = Template(title=fields["title"], body=fields["body"])
        locales[locale] = parsed
    return locales
