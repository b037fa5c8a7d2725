"""The embedded Celery broker: kombu's filesystem transport, with each message written atomically.

The stock ``filesystem://`` transport creates a message file under its final name and only then
writes into it. A worker polling the folder can take the file in between, find it empty, and stop
with ``Unrecoverable error: JSONDecodeError`` (kombu issue #1551). This channel writes under a
hidden temporary name and renames: a rename within one directory is atomic, so a reader sees the
whole message or nothing.

Importing the module registers the transport as the URL scheme ``atomicfs://``. A scheme, not
Celery's ``broker_transport`` setting, because an explicit transport beats the URL: a
configuration that later points ``broker_url`` at ``amqp://`` must really mean AMQP.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

SCHEME = "atomicfs"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        partial = os.path.join(self.data_folder_out, f".{name}.part")  # readers skip it: wrong suffix
        with open(partial, "wb") as message:
            message.write(str_to_bytes(dumps(payload)))
        os.replace(partial, os.path.join(self.data_folder_out, name))


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")
