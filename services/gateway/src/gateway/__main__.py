import sys

from pydantic import ValidationError

from common.service.http_app import serve_app
from gateway.adapters.people import PeopleFileError
from gateway.bootstrap import create_app
from gateway.config import GatewaySettings


def main() -> None:
    try:
        settings = GatewaySettings()
        app = create_app(settings)
    except (ValidationError, PeopleFileError) as error:
        sys.exit(f"gateway: cannot start: {error}")
    serve_app(app, host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
