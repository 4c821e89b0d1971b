"""Certificates for the TLS tests, made with the openssl tool in a temporary directory: CAs,
server certificates (SAN localhost and 127.0.0.1), client certificates, and an expired one."""
import atexit
import os
import shutil
import subprocess
import tempfile


class Certs:
    def __init__(self, prefix="rt-certs-"):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        atexit.register(shutil.rmtree, self.dir, True)

    def sh(self, *args):
        subprocess.run(args, check=True, capture_output=True, cwd=self.dir)

    def p(self, name):
        return os.path.join(self.dir, name)

    def ca(self, name):
        self.sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.crt")
        return self

    def cert(self, name, ca, cn, server=True, expired=False):
        """A certificate signed by ca; expired: valid for a day that ended yesterday (signed
        with `openssl ca`, which takes explicit start and end dates)."""
        self.sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout",
                f"{name}.key", "-out", f"{name}.csr")
        ext = self.p(f"{name}.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n" if server
                    else "basicConstraints=CA:FALSE\n")
        if not expired:
            self.sh("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey",
                    f"{ca}.key", "-CAcreateserial", "-days", "2", "-extfile", ext, "-out",
                    f"{name}.crt")
            return self
        db = self.p(f"{name}.db")
        open(db, "w").close()
        conf = self.p(f"{name}.cnf")
        with open(conf, "w") as f:
            f.write(f"""[ca]
default_ca = d
[d]
database = {db}
new_certs_dir = {self.dir}
serial = {self.p(name + '.serial')}
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
""")
        with open(self.p(f"{name}.serial"), "w") as f:
            f.write("1000\n")
        self.sh("openssl", "ca", "-batch", "-config", conf, "-cert", f"{ca}.crt", "-keyfile",
                f"{ca}.key", "-in", f"{name}.csr", "-out", f"{name}.crt", "-extfile", ext,
                "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-notext")
        return self

    def server_args(self, tls_port, cert="server", ca="ca"):
        return ["--tls-port", str(tls_port), "--tls-cert-file", self.p(f"{cert}.crt"),
                "--tls-key-file", self.p(f"{cert}.key"), "--tls-ca-cert-file", self.p(f"{ca}.crt")]
