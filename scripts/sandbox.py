"""A Jupyter kernel in a bubblewrap sandbox, for grading code the instructor does not trust.

`Sandbox(limits)` is a context manager; its `kernel_manager()` is a jupyter_client KernelManager
that nbclient can drive from outside. The kernel inside:

- sees a read-only system (/usr, the few /etc files a Python process needs), the Python prefix and
  the virtual environment, read-only; nothing else of the host: no home folder, no repository, no
  chapters, no other submissions, no grades. Its working folder is an empty, size-capped tmpfs.
- has no network (a private loopback only; the grader talks to it over Unix sockets in a private
  folder), its own PID namespace (the host's processes, and so the grader's /proc entries, are
  invisible), a clean environment, no new user namespaces, no capabilities, a new session.
- runs under limits: address space (RLIMIT_AS, each process), processes (a pids cgroup where one
  can be made, else RLIMIT_NPROC in its own user namespace, which the kernel ignores for root),
  memory of the whole tree (a memory cgroup where one can be made), file size, open files,
  no core dumps. The time limit is the grader's: it stops the kernel when the notebook's time is up.
- dies whole when it ends: bubblewrap's --die-with-parent and PID namespace take every process it
  started, detached or not; the cgroup, where there is one, is emptied and removed.

`probe()` says whether a sandbox can be had here (bubblewrap installed and allowed to make its
namespaces) and, if not, why, in one line. Run as a script it prints that line and what is in force:
    python scripts/sandbox.py
"""

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

KERNEL_NAME = "ffn-sandbox"
CGROUP_ROOT = Path("/sys/fs/cgroup")
INSTALL = "install bubblewrap (Debian/Ubuntu: sudo apt-get install -y bubblewrap; Fedora: sudo dnf install bubblewrap)"
ETC_FILES = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "passwd", "group", "localtime",
             "fonts", "alternatives", "mime.types", "ssl/openssl.cnf"]
MiB = 1024 * 1024


@dataclass
class Limits:
    memory_mb: int = 4096      # address space of each process (RLIMIT_AS) and, with a cgroup, the whole tree
    processes: int = 64 + 2 * (os.cpu_count() or 1)  # processes and threads (pids cgroup, else RLIMIT_NPROC)
    file_mb: int = 256         # largest file it may write (RLIMIT_FSIZE)
    scratch_mb: int = 256      # size of its working folder (a tmpfs)
    open_files: int = 1024     # RLIMIT_NOFILE


@dataclass
class Report:
    """What a sandbox actually enforced, for the grader's report."""
    memory: str = ""
    processes: str = ""
    notes: list = field(default_factory=list)


def bwrap_path():
    return shutil.which("bwrap")


# Where the sandbox shows the venv. Not at its own path: a venv inside the checkout (.venv, as `make`
# creates it) would otherwise make the checkout's folder exist inside the sandbox.
VENV_MOUNT = "/opt/ffn-venv"


def _in_venv():
    return os.path.realpath(sys.prefix) != os.path.realpath(sys.base_prefix)


def _prefixes():
    """Read-only binds the kernel's Python needs, as (host path, sandbox path): the real Python prefix
    (symlinks resolved) at its own path, and the venv, if any, at VENV_MOUNT."""
    paths = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    paths.add(os.path.realpath(os.path.dirname(os.path.realpath(sys.executable))))
    if not _in_venv():
        paths |= {os.path.realpath(p) for p in (sys.prefix, sys.exec_prefix)}
    binds = [(p, p) for p in sorted(paths) if not p.startswith(("/usr/", "/etc/")) and p not in ("/usr", "/")]
    if _in_venv():
        binds.append((os.path.realpath(sys.prefix), VENV_MOUNT))
    return binds


def _python():
    """The kernel's python as the sandbox sees it (through the venv's folder, so pyvenv.cfg is found)."""
    if _in_venv():
        return os.path.join(VENV_MOUNT, "bin", "python")
    return os.path.join(os.path.realpath(sys.prefix), "bin", "python")


def bwrap_args(private, scratch_mb):
    """bubblewrap's options: read-only system and Python, one private folder read-write, nothing else."""
    args = [bwrap_path(), "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--clearenv", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        target = os.readlink(f"/{link}") if os.path.islink(f"/{link}") else None
        if target:
            args += ["--symlink", target, f"/{link}"]
        elif os.path.isdir(f"/{link}"):
            args += ["--ro-bind", f"/{link}", f"/{link}"]
    for name in ETC_FILES:
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for host, inside in _prefixes():
        args += ["--ro-bind", host, inside]
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(scratch_mb * MiB), "--tmpfs", "/tmp", "--dir", "/tmp/work"]
    if private:
        args += ["--bind", private, private]
    home = private or "/tmp/work"
    env = {"HOME": "/tmp/work", "PATH": f"{os.path.dirname(_python())}:/usr/bin:/bin", "LANG": "C.UTF-8",
           "IPYTHONDIR": f"{home}/ipython", "MPLCONFIGDIR": f"{home}/matplotlib", "PYTHONNOUSERSITE": "1",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ATEN_CPU_CAPABILITY",
                "MKL_ENABLE_INSTRUCTIONS", "DNNL_MAX_CPU_ISA", "NPY_DISABLE_CPU_FEATURES"):
        if key in os.environ:  # the instructor's kernel settings, so grading matches the stored outputs
            env[key] = os.environ[key]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + ["--remount-ro", "/", "--chdir", "/tmp/work"]


# Runs inside the sandbox, before the kernel: the per-process limits, then ipykernel.
INNER = """\
import os, resource, sys
limits = {limits}
for name, value in limits.items():
    resource.setrlimit(getattr(resource, name), (value, value))
os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *sys.argv[1:]])
"""


def _rlimits(limits):
    return {"RLIMIT_AS": limits.memory_mb * MiB, "RLIMIT_NPROC": limits.processes,
            "RLIMIT_FSIZE": limits.file_mb * MiB, "RLIMIT_NOFILE": limits.open_files, "RLIMIT_CORE": 0}


_PROBE = {}


def probe():
    """(True, '') when a sandbox can be had here, else (False, one line saying why and what to do)."""
    if "result" not in _PROBE:
        _PROBE["result"] = _probe()
    return _PROBE["result"]


def _probe():
    if sys.platform != "linux":
        return False, f"the sandbox needs Linux with bubblewrap (this is {sys.platform})"
    if not bwrap_path():
        return False, f"bubblewrap (bwrap) is not installed: {INSTALL}"
    try:
        done = subprocess.run([*bwrap_args(None, 16), _python(), "-c", "import ipykernel"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"bubblewrap could not start: {err}"
    if done.returncode:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return False, (f"bubblewrap cannot make its namespaces here ({why}); allow unprivileged user "
                       "namespaces (sysctl kernel.unprivileged_userns_clone=1) or grade in a VM")
    return True, ""


# --- cgroups: best effort (root, or a delegated cgroup v2 subtree) ---------------------------------

def _own_cgroup_v2():
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return CGROUP_ROOT / line[3:].lstrip("/")
    except OSError:
        pass
    return None


def make_cgroups(name, limits):
    """[(cgroup folder, version)] created for this sandbox with its limits, and a Report of them."""
    made, report = [], Report()
    v2 = _own_cgroup_v2() if (CGROUP_ROOT / "cgroup.controllers").exists() else None
    if v2 is not None:
        folder = v2 / name
        try:
            folder.mkdir()
            (folder / "pids.max").write_text(str(limits.processes))
            report.processes = f"pids cgroup: at most {limits.processes}"
            with contextlib.suppress(OSError):
                (folder / "memory.max").write_text(str(limits.memory_mb * MiB))
                (folder / "memory.swap.max").write_text("0")
                report.memory = f"memory cgroup: {limits.memory_mb} MB for the whole tree"
            made.append((folder, 2))
        except OSError:
            with contextlib.suppress(OSError):
                folder.rmdir()
    for controller, knob, value in (("pids", "pids.max", limits.processes),
                                    ("memory", "memory.limit_in_bytes", limits.memory_mb * MiB)):
        if made and made[0][1] == 2:
            break
        folder = CGROUP_ROOT / controller / name
        try:
            folder.mkdir()
            (folder / knob).write_text(str(value))
            made.append((folder, 1))
            if controller == "pids":
                report.processes = f"pids cgroup: at most {limits.processes}"
            else:
                with contextlib.suppress(OSError):
                    (folder / "memory.memsw.limit_in_bytes").write_text(str(value))
                report.memory = f"memory cgroup: {limits.memory_mb} MB for the whole tree"
        except OSError:
            with contextlib.suppress(OSError):
                folder.rmdir()
    if not report.memory:
        report.memory = f"{limits.memory_mb} MB of address space per process (no memory cgroup here)"
    if not report.processes:
        report.processes = (f"RLIMIT_NPROC {limits.processes}" if os.geteuid() else
                            "none: running as root without a pids cgroup (RLIMIT_NPROC does not bind root)")
    return made, report


def kill_cgroups(made):
    """Kill every process left in the sandbox's cgroups and remove them."""
    for folder, version in made:
        if version == 2:
            with contextlib.suppress(OSError):
                (folder / "cgroup.kill").write_text("1")
        for _ in range(50):
            try:
                pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
            except OSError:
                break
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        with contextlib.suppress(OSError):
            folder.rmdir()


def remove_stale():
    """Remove what sandboxes of killed graders left behind: their private folders and empty cgroups."""
    for private in glob.glob(os.path.join(tempfile.gettempdir(), "ffn-sandbox-*")):
        try:
            owner = int(Path(private, "owner.pid").read_text())
            os.kill(owner, 0)
            continue  # its grader is alive
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            if time.time() - os.path.getmtime(private) < 600:
                continue  # being set up right now, or not ours to judge yet
        name = os.path.basename(private)
        folders = [CGROUP_ROOT / c / name for c in ("pids", "memory")]
        if (CGROUP_ROOT / "cgroup.controllers").exists() and _own_cgroup_v2() is not None:
            folders.append(_own_cgroup_v2() / name)
        kill_cgroups([(f, 2 if f.parent == _own_cgroup_v2() else 1) for f in folders if f.is_dir()])
        shutil.rmtree(private, ignore_errors=True)


def _matplotlib_fontlist():
    """The host's matplotlib font cache, copied into the sandbox so it is not rebuilt every time."""
    base = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib")
    return sorted(glob.glob(os.path.join(base, "fontlist-*.json")))


class Sandbox:
    """One sandboxed kernel's private folder, cgroups and kernel spec; use as a context manager."""

    def __init__(self, limits=None):
        self.limits = limits or Limits()
        self.private = None
        self.cgroups = []
        self.report = Report()

    def __enter__(self):
        remove_stale()
        self.private = tempfile.mkdtemp(prefix="ffn-sandbox-")
        (Path(self.private) / "owner.pid").write_text(str(os.getpid()))
        name = os.path.basename(self.private)
        self.cgroups, self.report = make_cgroups(name, self.limits)
        spec = Path(self.private) / "spec" / KERNEL_NAME
        spec.mkdir(parents=True)
        for sub in ("ipython", "matplotlib"):
            (Path(self.private) / sub).mkdir()
        for fontlist in _matplotlib_fontlist():
            shutil.copy(fontlist, Path(self.private) / "matplotlib")
        config = {"bwrap": bwrap_args(self.private, self.limits.scratch_mb),
                  "inner": INNER.format(limits=_rlimits(self.limits)), "python": _python(),
                  "cgroups": [str(folder) for folder, _ in self.cgroups]}
        (Path(self.private) / "spec" / "launch.json").write_text(json.dumps(config))
        argv = [sys.executable, "-S", os.path.abspath(__file__), "launch",
                str(Path(self.private) / "spec" / "launch.json"), "{connection_file}"]
        (spec / "kernel.json").write_text(json.dumps(
            {"argv": argv, "display_name": "Python 3 (sandboxed)", "language": "python"}))
        # the spec folder is the grader's: the kernel sees it (it is under the private folder) read-only
        return self

    def kernel_manager(self):
        from jupyter_client import AsyncKernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        specs = KernelSpecManager(kernel_dirs=[str(Path(self.private) / "spec")])
        return AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs, transport="ipc",
                             ip=os.path.join(self.private, "k"),
                             connection_file=os.path.join(self.private, "kernel.json"))

    def __exit__(self, *exc):
        kill_cgroups(self.cgroups)
        shutil.rmtree(self.private, ignore_errors=True)
        return False


def launch(config_path, connection_file):
    """The kernel spec's command (runs outside, as the grader): join the cgroups, become bubblewrap."""
    config = json.loads(Path(config_path).read_text())
    for folder in config["cgroups"]:
        (Path(folder) / "cgroup.procs").write_text(str(os.getpid()))
    # the spec folder must not be writable by the kernel: remount it read-only over the private bind
    spec = str(Path(config_path).parent)
    argv = [*config["bwrap"], "--ro-bind", spec, spec, "--",
            config["python"], "-c", config["inner"], "-f", connection_file,
            "--HistoryManager.enabled=False"]
    os.execv(argv[0], argv)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "launch":
        launch(sys.argv[2], sys.argv[3])
        return
    ok, why = probe()
    if not ok:
        sys.exit(f"no sandbox: {why}")
    with Sandbox() as box:
        print(f"sandbox available: {bwrap_path()}")
        print(f"  memory: {box.report.memory}\n  processes: {box.report.processes}")
        print(f"  limits: {json.dumps(asdict(box.limits))}")


if __name__ == "__main__":
    main()
