from common.service.http_app import serve
from ledger.bootstrap import create_app
from ledger.config import LedgerSettings


def main() -> None:
    settings = LedgerSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
