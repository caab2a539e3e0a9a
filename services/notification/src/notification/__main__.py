from common.service.http_app import serve
from notification.bootstrap import create_app
from notification.config import NotificationSettings


def main() -> None:
    settings = NotificationSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
