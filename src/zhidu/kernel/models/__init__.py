# Each kernel area keeps its models in its own module; all are re-exported here for Django.
from .audit import *  # noqa: F401,F403
from .calendar import *  # noqa: F401,F403
from .idempotency import *  # noqa: F401,F403
from .importing import *  # noqa: F401,F403
from .jobs import *  # noqa: F401,F403
from .ledger import *  # noqa: F401,F403
from .notify import *  # noqa: F401,F403
from .policy import *  # noqa: F401,F403
from .workflow import *  # noqa: F401,F403
