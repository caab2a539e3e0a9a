from common.service.http_app import serve
from ledger.bootstrap import create_app
from ledger.config import LedgerSettings
from ledger.entrypoints.gift_files import GiftFileError


def main() -> None:
    settings = LedgerSettings()
    try:
        app = create_app(settings)
    except GiftFileError as error:  # one clear line, not a stack trace
        raise SystemExit(f"ledger cannot start: LEDGER_DISTRICTS_DIR: {error}") from None
    serve(app, settings)


if __name__ == "__main__":
    main()
