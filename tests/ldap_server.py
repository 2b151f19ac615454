"""A throwaway OpenLDAP slapd for the tests: own cn=config (mdb, core/cosine/inetorgperson/nis),
a test CA and server certificate made with ``cryptography``, loopback ports, 10,000 bulk entries
loaded with slapadd before start, and two non-admin binds with size limits:

- ``cn=reader``: size limit 100 for plain searches, unlimited with paged results (so only a
  paged search reads the 10,000 bulk entries);
- ``cn=limited``: paged results capped at 15 entries in total (sizeLimitExceeded mid-read).

One instance per test session (shared by every test directory that asks), killed at exit."""
from __future__ import annotations

import atexit
import datetime as dt
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from tests.ports import free_port

SUFFIX = "dc=example,dc=test"
ADMIN_DN, ADMIN_PW = f"cn=admin,{SUFFIX}", "admin-secret"
READER_DN, READER_PW = f"cn=reader,{SUFFIX}", "reader-secret"
LIMITED_DN, LIMITED_PW = f"cn=limited,{SUFFIX}", "limited-secret"
BULK_BASE = f"ou=bulk,{SUFFIX}"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


@dataclass
class SlapdServer:
    host: str
    port: int
    tls_port: int
    ca_file: str
    workdir: str
    process: subprocess.Popen
    bulk: int

    @property
    def url(self) -> str:
        return f"ldap://{self.host}:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.host}:{self.tls_port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


_server: SlapdServer | None = None


def slapd_binary() -> str | None:
    return shutil.which("slapd") or ("/usr/sbin/slapd" if os.path.exists("/usr/sbin/slapd")
                                     else None)


def get_server(bulk: int = 10_000) -> SlapdServer:
    """Start the shared server on first use."""
    global _server
    if _server is None:
        _server = start(bulk)
        atexit.register(_server.stop)
    return _server



def make_tls(workdir: str) -> tuple[str, str, str]:
    """A CA and a server certificate for 127.0.0.1 / localhost, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "connector test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tuple(os.path.join(workdir, n) for n in ("ca.pem", "server.pem", "server.key"))
    with open(paths[0], "wb") as fh:
        fh.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption()))
    return paths


def _config_ldif(workdir: str, ca: str, cert: str, key: str) -> str:
    schemas = "\n".join(f"include: file:///etc/ldap/schema/{s}.ldif" for s in SCHEMAS)
    return f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {workdir}/slapd.pid
olcTLSCACertificateFile: {ca}
olcTLSCertificateFile: {cert}
olcTLSCertificateKeyFile: {key}

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {SUFFIX}
olcDbDirectory: {workdir}/data
olcRootDN: {ADMIN_DN}
olcRootPW: {ADMIN_PW}
olcDbMaxSize: 2147483648
olcDbIndex: objectClass eq
olcDbIndex: entryUUID eq
olcDbIndex: uid eq
olcDbIndex: member eq
olcDbIndex: modifyTimestamp eq
olcLimits: {{0}}dn.exact="{READER_DN}" size.soft=100 size.hard=100 size.pr=1000 size.prtotal=unlimited
olcLimits: {{1}}dn.exact="{LIMITED_DN}" size.soft=5 size.hard=5 size.pr=1000 size.prtotal=15
olcAccess: {{0}}to attrs=userPassword by self =xw by anonymous auth by * none
olcAccess: {{1}}to * by users read by * none
"""


def _data_ldif(bulk: int) -> str:
    out = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\n"
           "o: Example\n",
           f"dn: {READER_DN}\nobjectClass: person\ncn: reader\nsn: reader\n"
           f"userPassword: {READER_PW}\n",
           f"dn: {LIMITED_DN}\nobjectClass: person\ncn: limited\nsn: limited\n"
           f"userPassword: {LIMITED_PW}\n",
           f"dn: {BULK_BASE}\nobjectClass: organizationalUnit\nou: bulk\n"]
    # Past, distinct modifyTimestamps (as a directory grown over time has), so an incremental
    # run after a full one reads only what changed since.
    start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(bulk):
        stamp = (start + dt.timedelta(seconds=i)).strftime("%Y%m%d%H%M%SZ")
        out.append(f"dn: uid=bulk{i:06d},{BULK_BASE}\nobjectClass: inetOrgPerson\n"
                   f"uid: bulk{i:06d}\ncn: Bulk Person {i}\nsn: Person{i}\ngivenName: Bulk\n"
                   f"mail: bulk{i:06d}@bulk.example.test\nentryUUID: {uuid.uuid4()}\n"
                   f"createTimestamp: {stamp}\nmodifyTimestamp: {stamp}\n")
    return "\n".join(out)


def start(bulk: int = 10_000, workdir: str | None = None) -> SlapdServer:
    """Build cn=config and the data with slapadd, start slapd on two loopback ports."""
    binary = slapd_binary()
    if binary is None:
        raise RuntimeError("slapd is not installed")
    workdir = workdir or tempfile.mkdtemp(prefix="connector-slapd-")
    os.makedirs(workdir, exist_ok=True)
    ca, cert, key = make_tls(workdir)
    confdir, datadir = os.path.join(workdir, "slapd.d"), os.path.join(workdir, "data")
    os.makedirs(confdir)
    os.makedirs(datadir)
    for name, text in (("config.ldif", _config_ldif(workdir, ca, cert, key)),
                       ("data.ldif", _data_ldif(bulk))):
        with open(os.path.join(workdir, name), "w", encoding="utf-8") as fh:
            fh.write(text)
    slapadd = os.path.join(os.path.dirname(binary), "slapadd")
    subprocess.run([slapadd, "-n0", "-F", confdir, "-l", os.path.join(workdir, "config.ldif")],
                   check=True, capture_output=True)
    subprocess.run([slapadd, "-q", "-n1", "-F", confdir, "-l", os.path.join(workdir, "data.ldif")],
                   check=True, capture_output=True)
    port, tls_port = free_port(), free_port()
    proc = subprocess.Popen([binary, "-d", "0", "-F", confdir, "-h",
                             f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("slapd exited: " + proc.stderr.read().decode(errors="replace"))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("slapd did not start listening")
    return SlapdServer("127.0.0.1", port, tls_port, ca, workdir, proc, bulk)


class Tree:
    """A private subtree per test (ou=<random>) with people and groups, written as the admin."""

    def __init__(self, server: SlapdServer) -> None:
        from ldap3 import Connection, Server
        self.server = server
        self.conn = Connection(Server(server.host, port=server.port), ADMIN_DN, ADMIN_PW,
                               auto_bind=True, raise_exceptions=True)
        self.ou = f"t{uuid.uuid4().hex[:10]}"
        self.base = f"ou={self.ou},{SUFFIX}"
        self.people = f"ou=people,{self.base}"
        self.groups = f"ou=groups,{self.base}"
        self.conn.add(self.base, "organizationalUnit", {"ou": self.ou})
        self.conn.add(self.people, "organizationalUnit", {"ou": "people"})
        self.conn.add(self.groups, "organizationalUnit", {"ou": "groups"})
        self.domain = f"{self.ou}.example.test"

    def add_user(self, uid: str, *, ou: str | None = None, password: str | None = None,
                 **attrs) -> str:
        dn = f"uid={uid},{ou or self.people}"
        values = {"uid": uid, "cn": attrs.pop("cn", f"{uid.title()} Person"),
                  "sn": attrs.pop("sn", "Person"), "givenName": attrs.pop("givenName", uid.title()),
                  "mail": attrs.pop("mail", f"{uid}@{self.domain}"), **attrs}
        if password:
            values["userPassword"] = password
        self.conn.add(dn, ["inetOrgPerson"], values)
        return dn

    def add_users(self, n: int, prefix: str = "user") -> list[str]:
        return [self.add_user(f"{prefix}{i:03d}") for i in range(n)]

    def add_group(self, cn: str, members: list[str], kind: str = "groupOfNames") -> str:
        dn = f"cn={cn},{self.groups}"
        attr = {"groupOfNames": "member", "groupOfUniqueNames": "uniqueMember",
                "posixGroup": "memberUid"}[kind]
        values: dict = {"cn": cn}
        if kind == "posixGroup":
            values["gidNumber"] = 5000 + len(cn)
        if members or kind == "posixGroup":
            values[attr] = members
        else:  # groupOfNames needs at least one member (RFC 4519)
            values[attr] = [self.base]
        self.conn.add(dn, [kind], values)
        return dn

    def modify(self, dn: str, **replace) -> None:
        from ldap3 import MODIFY_REPLACE
        self.conn.modify(dn, {k: [(MODIFY_REPLACE, v if isinstance(v, list) else [v])]
                              for k, v in replace.items()})

    def add_member(self, group_dn: str, member: str, attr: str = "member") -> None:
        from ldap3 import MODIFY_ADD
        self.conn.modify(group_dn, {attr: [(MODIFY_ADD, [member])]})

    def remove_member(self, group_dn: str, member: str, attr: str = "member") -> None:
        from ldap3 import MODIFY_DELETE
        self.conn.modify(group_dn, {attr: [(MODIFY_DELETE, [member])]})

    def entry_uuid(self, dn: str) -> str:
        self.conn.search(dn, "(objectClass=*)", search_scope="BASE", attributes=["entryUUID"])
        return str(self.conn.entries[0].entryUUID.value).lower()
