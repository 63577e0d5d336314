"""Builds the jetserve client with gRPC stubs generated from the repository's proto/ folder.

The .proto files are read from $JETSERVE_PROTO_DIR, else ../../proto beside this file (a
checkout of the jetserve repository). The generated modules land in the package as
jetserve/v1/*_pb2.py and *_pb2_grpc.py, so they import as `jetserve.v1.generate_pb2`.
"""
import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py


def proto_root():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.environ.get("JETSERVE_PROTO_DIR") or os.path.join(here, "..", "..", "proto")
    root = os.path.abspath(root)
    if not glob.glob(os.path.join(root, "jetserve", "v1", "*.proto")):
        raise RuntimeError(
            f"jetserve client: no jetserve/v1/*.proto under {root}; build from a jetserve "
            "checkout or set JETSERVE_PROTO_DIR")
    return root


class BuildWithStubs(build_py):
    def run(self):
        super().run()
        from grpc_tools import protoc  # build dependency (pyproject.toml)
        import grpc_tools

        root = proto_root()
        out = self.build_lib
        protos = sorted(glob.glob(os.path.join(root, "jetserve", "v1", "*.proto")))
        well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        args = ["protoc", f"-I{root}", f"-I{well_known}", f"--python_out={out}",
                f"--pyi_out={out}", f"--grpc_python_out={out}"] + protos
        if protoc.main(args) != 0:
            raise RuntimeError("jetserve client: protoc failed on " + " ".join(protos))
        init = os.path.join(out, "jetserve", "v1", "__init__.py")
        if not os.path.exists(init):
            open(init, "w").close()


# Only the hand-written package is listed; the stubs are added to build_lib above and go
# into the wheel with it.
setup(cmdclass={"build_py": BuildWithStubs})
