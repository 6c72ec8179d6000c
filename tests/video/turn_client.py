"""A minimal STUN/TURN client over UDP, enough to ask a real TURN server for a relay with
long-term credentials: Binding (RFC 5389); Allocate, Refresh and CreatePermission (RFC
5766), signed with the MESSAGE-INTEGRITY of RFC 5389 section 15.4.

    client = TurnClient(("127.0.0.1", 3478))
    response = client.allocate(username, password)
    response.success, response.error_code, response.relayed_address
    client.create_permission("198.51.100.7").success
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import Final

MAGIC_COOKIE: Final = 0x2112A442
BINDING: Final = 0x0001
ALLOCATE: Final = 0x0003
REFRESH: Final = 0x0004
CREATE_PERMISSION: Final = 0x0008
_SUCCESS: Final = 0x0100

USERNAME: Final = 0x0006
MESSAGE_INTEGRITY: Final = 0x0008
ERROR_CODE: Final = 0x0009
LIFETIME: Final = 0x000D
XOR_PEER_ADDRESS: Final = 0x0012
REALM: Final = 0x0014
NONCE: Final = 0x0015
XOR_RELAYED_ADDRESS: Final = 0x0016
REQUESTED_TRANSPORT: Final = 0x0019
_UDP: Final = bytes([17, 0, 0, 0])


@dataclass
class Response:
    message_type: int
    attributes: dict[int, bytes] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.message_type & 0x0110 == _SUCCESS

    @property
    def error_code(self) -> int | None:
        value = self.attributes.get(ERROR_CODE)
        return None if value is None else (value[2] & 0x07) * 100 + value[3]

    @property
    def relayed_address(self) -> tuple[str, int] | None:
        value = self.attributes.get(XOR_RELAYED_ADDRESS)
        if value is None or value[1] != 0x01:  # IPv4 only: the tests relay on 127.0.0.1
            return None
        port = struct.unpack("!H", value[2:4])[0] ^ (MAGIC_COOKIE >> 16)
        address = struct.unpack("!I", value[4:8])[0] ^ MAGIC_COOKIE
        return socket.inet_ntoa(struct.pack("!I", address)), port


class TurnClient:
    """One client transport address (a UDP socket): an allocation belongs to it."""

    def __init__(self, server: tuple[str, int], *, timeout: float = 2.0) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.settimeout(timeout)
        self._socket.connect(server)
        self._key: bytes | None = None
        self._username = self._realm = self._nonce = b""

    def close(self) -> None:
        self._socket.close()

    def binding(self) -> Response:
        return self._send(BINDING, [])

    def allocate(self, username: str, password: str) -> Response:
        """Allocate a UDP relay: first unauthenticated, to learn the realm and nonce the
        server's 401 names, then with the long-term credentials."""
        challenge = self._send(ALLOCATE, [(REQUESTED_TRANSPORT, _UDP)])
        if challenge.error_code != 401:
            return challenge
        self._username = username.encode()
        self._realm = challenge.attributes[REALM]
        self._nonce = challenge.attributes[NONCE]
        self._key = hashlib.md5(self._username + b":" + self._realm + b":"
                                + password.encode()).digest()
        return self._send_signed(ALLOCATE, [(REQUESTED_TRANSPORT, _UDP)])

    def refresh(self, lifetime: int = 600) -> Response:
        """Refresh the allocation with the credentials it was made with."""
        return self._send_signed(REFRESH, [(LIFETIME, struct.pack("!I", lifetime))])

    def create_permission(self, peer: str) -> Response:
        """Let the relay exchange packets with this IPv4 peer (as a browser does for the
        other side's candidates)."""
        port = MAGIC_COOKIE >> 16  # port 0, XOR-ed: permissions ignore the port
        address = struct.unpack("!I", socket.inet_aton(peer))[0] ^ MAGIC_COOKIE
        value = struct.pack("!BBHI", 0, 0x01, port, address)
        return self._send_signed(CREATE_PERMISSION, [(XOR_PEER_ADDRESS, value)])

    def _send_signed(self, method: int, attributes: list[tuple[int, bytes]]) -> Response:
        response = self._send(method, self._credentials() + attributes, signed=True)
        if response.error_code == 438:  # stale nonce: the server names a fresh one
            self._nonce = response.attributes[NONCE]
            response = self._send(method, self._credentials() + attributes, signed=True)
        return response

    def _credentials(self) -> list[tuple[int, bytes]]:
        return [(USERNAME, self._username), (REALM, self._realm), (NONCE, self._nonce)]

    def _send(self, method: int, attributes: list[tuple[int, bytes]], *,
              signed: bool = False) -> Response:
        transaction = os.urandom(12)
        body = b"".join(_attribute(kind, value) for kind, value in attributes)
        if signed:
            assert self._key is not None, "allocate first"
            # The integrity covers a header whose length already counts the 24-byte
            # MESSAGE-INTEGRITY attribute itself (RFC 5389, 15.4).
            signed_part = _header(method, len(body) + 24, transaction) + body
            digest = hmac.new(self._key, signed_part, hashlib.sha1).digest()
            body += _attribute(MESSAGE_INTEGRITY, digest)
        self._socket.send(_header(method, len(body), transaction) + body)
        while True:
            response, answered = _parse(self._socket.recv(65536))
            if answered == transaction:
                return response


def _header(message_type: int, length: int, transaction: bytes) -> bytes:
    return struct.pack("!HHI", message_type, length, MAGIC_COOKIE) + transaction


def _attribute(kind: int, value: bytes) -> bytes:
    padding = b"\0" * (-len(value) % 4)
    return struct.pack("!HH", kind, len(value)) + value + padding


def _parse(datagram: bytes) -> tuple[Response, bytes]:
    message_type, length, _cookie = struct.unpack("!HHI", datagram[:8])
    response = Response(message_type)
    offset = 20
    while offset < 20 + length:
        kind, size = struct.unpack("!HH", datagram[offset:offset + 4])
        response.attributes.setdefault(kind, datagram[offset + 4:offset + 4 + size])
        offset += 4 + size + (-size % 4)
    return response, datagram[8:20]
