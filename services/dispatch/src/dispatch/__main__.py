from common.service.http_app import serve
from dispatch.bootstrap import create_app
from dispatch.config import DispatchSettings


def main() -> None:
    settings = DispatchSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
