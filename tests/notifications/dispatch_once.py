"""One dispatch pass in a process of its own, so that a test can kill it mid-send:
python -m tests.notifications.dispatch_once DATABASE_URL PROVIDER_JSON NOW_ISO"""

import json
import sys
from datetime import datetime

from lending.db import make_engine
from notifications.providers import make_provider
from notifications.service import dispatch


def main() -> None:
    database_url, provider_json, moment = sys.argv[1:4]
    settings = json.loads(provider_json)
    provider = make_provider(settings.pop("name"), **settings)
    engine = make_engine(database_url)
    print(dispatch(engine, provider, now=datetime.fromisoformat(moment)), flush=True)


if __name__ == "__main__":
    main()
