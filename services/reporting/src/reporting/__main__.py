from common.service.http_app import serve
from reporting.bootstrap import create_app
from reporting.config import ReportingSettings


def main() -> None:
    settings = ReportingSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
