"""With "http_tls": true the HTTP API is HTTPS with the gateway's `tls` certificate (the
gRPC port's; client certificates required when client_ca_file is set). Certificates are
made by openssl here."""
import os
import shutil
import subprocess

import pytest
import requests

from conftest import ENCODER_DATA, gateway


def openssl(workdir, *args):
    subprocess.run(["openssl", *args], cwd=workdir, check=True, capture_output=True)


def make_cert(workdir, name, extensions):
    with open(os.path.join(workdir, f"{name}.ext"), "w") as f:
        f.write(extensions + "\n")
    openssl(workdir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
    openssl(workdir, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")


@pytest.fixture(scope="module")
def tls(stack):
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed (deploy/install-deps.sh installs it)")
    workdir = os.path.join(stack.workdir, "tls")
    os.makedirs(workdir)
    openssl(workdir, "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=ca", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")
    make_cert(workdir, "server", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    make_cert(workdir, "client", "extendedKeyUsage=clientAuth")
    models = [{"name": "emb", "path": os.path.join(ENCODER_DATA, "tiny_bert_vocab.gguf"),
               "local": {}}]
    files = {k: os.path.join(workdir, v) for k, v in (
        ("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"),
        ("client_cert", "client.pem"), ("client_key", "client.key"))}
    with gateway(os.path.join(workdir, "gw"), models, extra_config={"http_tls": True, "tls": {
            "cert_file": files["cert"], "key_file": files["key"],
            "client_ca_file": files["ca"]}}) as s:
        yield s, files


def test_https_with_client_certificates(tls):
    s, files = tls
    url = s.http_url.replace("http://", "https://") + "/v1/embeddings"
    body = {"model": "emb", "input": "x"}
    client_cert = (files["client_cert"], files["client_key"])
    r = requests.post(url, json=body, verify=files["ca"], cert=client_cert)
    assert r.status_code == 200 and len(r.json()["data"][0]["embedding"]) > 0
    with pytest.raises(requests.exceptions.ConnectionError):  # no client certificate
        requests.post(url, json=body, verify=files["ca"])
    with pytest.raises(requests.exceptions.ConnectionError):  # plain HTTP is not served
        requests.post(s.http_url + "/v1/embeddings", json=body, timeout=5)
