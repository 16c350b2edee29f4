"""Worker-process plumbing shared by the benchmarks that time each tool in its own process.

``neurosim_vs_peers.py`` and ``spiking_network.py`` run every tool (neurosim, Brian2's runtime mode,
Brian2's cpp_standalone build) in a fresh process, so that compile and first-call costs are seen
apart and one tool's caches or threads do not colour another's timings. The script itself is the
worker: the conductor re-runs it as ``python SCRIPT --worker ROLE --work WORK [...]``. Its
directory (``bench/``) is then ``sys.path[0]`` of the child as in the parent, so the child imports
this module the same way; the repository root is put on ``PYTHONPATH`` for the libraries.

Two halves:

* in a worker: :func:`add_worker_options` adds the hidden ``--worker`` options to the script's
  parser and :func:`play_role` dispatches on them; :func:`answer` writes one JSON line,
  :func:`serve` answers the conductor's commands (``first``, ``run``, ``quit``) on stdin,
  :func:`serve_brian2_runtime` and :func:`brian2_standalone_build` do so for a Brian2 network
  built by the script;
* in the conductor: :class:`Worker` starts a serving worker and asks it (:func:`start_worker` also
  asks its first call), :func:`run_worker_once` runs a one-shot worker to its end,
  :func:`start_brian2_standalone` builds a Brian2 binary through one, :func:`brian2_standalone_rerun`
  re-runs it, :func:`alternate_runs` alternates the timed runs between the tools round by round,
  :func:`environment` gives a child's environment variables, :func:`load_average` the
  machine's load for the report, :func:`finish` ends it (load at the end, ``--json`` file).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# ----------------------------------------------------------------------------------------------
# In a worker: each runs in its own process, reads commands on stdin and answers one JSON line each.
# ----------------------------------------------------------------------------------------------


def answer(payload: dict) -> None:
    """Write ``payload`` to stdout as one JSON line and flush it, for the conductor to read."""
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def serve(first_call, run) -> None:
    """Answer 'first' with the first call's cost, then each 'run' with one timed run, until 'quit'.

    ``first_call()`` returns the spike count of the first call (which is timed here, everything
    it does included); ``run()`` times itself and returns a dict with at least ``run_s``.
    """
    for line in sys.stdin:
        command = line.strip()
        if command == "first":
            start = time.perf_counter()
            spikes = first_call()
            answer({"first_call_s": time.perf_counter() - start, "spikes": spikes})
        elif command == "run":
            answer(run())
        elif command == "quit":
            return


def add_worker_options(parser: argparse.ArgumentParser, threads: bool = False) -> None:
    """Add the hidden options by which the conductor starts its own script as a worker.

    ``--worker ROLE`` (with the script's ``--work``), ``--directory`` for the Brian2 standalone
    build and, with ``threads``, ``--threads`` for that build's OpenMP threads.
    """
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    if threads:
        parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)


def play_role(args: argparse.Namespace, t_end: float, neurosim_worker, brian2_network, warm_up: float = 0.0,
              **roles) -> None:
    """Be the worker that ``args.worker`` names, for the work ``args.work[0]``; ``warm_up`` (s) is
    Brian2 runtime's untimed run before each timed one (see :func:`serve_brian2_runtime`).

    ``neurosim``: ``neurosim_worker(work)`` (which calls :func:`serve`); ``brian2-runtime`` and
    ``brian2-standalone-build``: :func:`serve_brian2_runtime` and :func:`brian2_standalone_build`
    on ``brian2_network(work)`` (which returns ``(network, spike_monitor)``) for ``t_end`` seconds;
    any other role is looked up in ``roles`` (e.g. ``digits=...``) and called without arguments.
    """
    work = args.work[0]
    if args.worker == "neurosim":
        neurosim_worker(work)
    elif args.worker == "brian2-runtime":
        serve_brian2_runtime(lambda: brian2_network(work), t_end, warm_up)
    elif args.worker == "brian2-standalone-build":
        brian2_standalone_build(lambda: brian2_network(work), t_end, args.directory,
                                getattr(args, "threads", None))
    elif args.worker in roles:
        roles[args.worker]()


def serve_brian2_runtime(build_network, t_end: float, warm_up: float = 0.0) -> None:
    """Serve a Brian2 network in runtime mode (Cython code generation) for ``t_end`` seconds a run,
    each after an untimed run of ``warm_up`` seconds when that is > 0 (a process that waited while
    other tools ran is slower in its first tens of milliseconds on this VM; see bench/networks.py).

    ``build_network()`` returns ``(network, spike_monitor)``; it is called after the code
    generation target is set. The first call is the first ``Network.run`` (code generation and
    Cython compilation, from the cache if warm); every later run continues from the current state,
    the same work again, and reports the spikes it added.
    """
    import brian2 as b2

    b2.prefs.codegen.target = "cython"
    network, monitor = build_network()

    def first_call():
        network.run(t_end * b2.second)
        return int(monitor.num_spikes)

    def run():
        if warm_up > 0:
            network.run(warm_up * b2.second)
        before = int(monitor.num_spikes)
        start = time.perf_counter()
        network.run(t_end * b2.second)   # continues from the current state: the same work again
        elapsed = time.perf_counter() - start
        return {"run_s": elapsed, "spikes": int(monitor.num_spikes) - before}

    serve(first_call, run)


def brian2_standalone_build(build_network, t_end: float, directory: str, threads: int | None = None) -> None:
    """Generate, compile and run a Brian2 cpp_standalone project once, in ``directory``.

    ``build_network()`` returns ``(network, spike_monitor)`` and is called once the device is set;
    ``threads`` sets its OpenMP threads (``None``: Brian2's default, no OpenMP). Answers one JSON
    line: compile time, first run's wall time, spike count, the loop's own time and the threads.
    """
    import brian2 as b2

    b2.set_device("cpp_standalone", build_on_run=False)
    if threads is not None:
        b2.prefs.devices.cpp_standalone.openmp_threads = threads
    network, monitor = build_network()
    network.run(t_end * b2.second)
    start = time.perf_counter()
    b2.device.build(directory=directory, compile=True, run=False, clean=True)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    b2.device.run(directory=directory, with_output=False)
    first_run_s = time.perf_counter() - start
    answer({"compile_s": compile_s, "first_run_s": first_run_s, "spikes": int(monitor.num_spikes),
            "loop_s": b2.device._last_run_time,
            "threads": b2.prefs.devices.cpp_standalone.openmp_threads})


# ----------------------------------------------------------------------------------------------
# In the conductor: starts the workers and asks them.
# ----------------------------------------------------------------------------------------------


def _command(script: str, role: str, work: str, extra: tuple[str, ...]) -> list[str]:
    return [sys.executable, script, "--worker", role, "--work", work, *extra]


class Worker:
    """``python SCRIPT --worker ROLE --work WORK`` in a child process, asked commands (see :func:`serve`).

    ``script`` is the benchmark script (its ``__file__``), which dispatches on ``--worker``;
    ``env`` is the child's whole environment (see :func:`environment`).
    """

    def __init__(self, script: str, role: str, work: str, env: dict[str, str]):
        self.process = subprocess.Popen(_command(script, role, work, ()), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, command: str) -> dict:
        """Send one command ('first' or 'run') and return the worker's JSON answer."""
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker died answering {command!r}")
        return json.loads(line)

    def close(self) -> None:
        """Tell the worker to quit and wait for it to end."""
        self.process.stdin.write("quit\n")
        self.process.stdin.close()
        self.process.wait(timeout=60)


def run_worker_once(script: str, role: str, work: str, env: dict[str, str], *extra: str) -> dict:
    """Run ``python SCRIPT --worker ROLE --work WORK EXTRA...`` to its end; return its last JSON line.

    For workers that do their whole job in one go (a Brian2 standalone build, the digits run).
    Fails (``CalledProcessError``) if the worker does.
    """
    output = subprocess.run(_command(script, role, work, extra), check=True, capture_output=True,
                            text=True, env=env)
    return json.loads(output.stdout.strip().splitlines()[-1])


def brian2_standalone_rerun(directory: str) -> dict:
    """Run the compiled binary again; its loop time comes from its own last_run_info.txt.

    Returns ``run_s`` (the simulation loop alone) and ``wall_s`` (the binary's whole wall time:
    start-up, loop, writing results).
    """
    results = os.path.join(directory, "results")
    start = time.perf_counter()
    subprocess.run(["./main", "--results_dir", results + os.sep], cwd=directory, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    with open(os.path.join(results, "last_run_info.txt")) as info:
        loop_s = float(info.read().split()[0])
    return {"run_s": loop_s, "wall_s": wall}


def start_worker(script: str, role: str, work: str, env: dict[str, str], **entry) -> tuple[Worker, dict]:
    """Start a serving :class:`Worker` and ask its first call; return it and its report entry.

    The entry holds ``first_call_s``, ``spikes`` (of the first call), an empty ``runs`` list for
    :func:`alternate_runs`, then the caller's own ``entry`` keys (e.g. ``counts=[]``).
    """
    worker = Worker(script, role, work, env)
    first = worker.ask("first")
    return worker, {"first_call_s": first["first_call_s"], "spikes": first["spikes"], "runs": [], **entry}


def start_brian2_standalone(script: str, work: str, directory: str, threads: int | None = None,
                            **entry) -> dict:
    """Build the Brian2 standalone binary once (worker role ``brian2-standalone-build``); its entry.

    The script's build worker takes ``--directory`` (and ``--threads`` when ``threads`` is given:
    its OpenMP threads, then recorded in the entry as Brian2 reports them). The entry's first call
    is compile time plus the first run; ``runs`` and ``walls`` start empty for
    :func:`alternate_runs`, then come the caller's own ``entry`` keys.
    """
    extra = ["--directory", directory]
    if threads is not None:
        extra += ["--threads", str(threads)]
    built = run_worker_once(script, "brian2-standalone-build", work, environment(), *extra)
    report = {"first_call_s": built["compile_s"] + built["first_run_s"], "compile_s": built["compile_s"],
              "spikes": built["spikes"]}
    if threads is not None:
        report["threads"] = built["threads"]
    return {**report, "runs": [], "walls": [], **entry}


def alternate_runs(rounds: int, tools: list[str], workers: dict[str, Worker], report: dict[str, dict],
                   standalone_dir: str) -> None:
    """Time ``rounds`` rounds, each tool once a round in the order of ``tools``; then close the workers.

    ``brian2-standalone`` re-runs the binary in ``standalone_dir`` (its wall time goes to
    ``walls``), every other tool is asked to 'run' by its worker (its spike count goes to
    ``counts`` where the entry has that list). Every run time goes to the tool's ``runs``.
    """
    for _ in range(rounds):
        for tool in tools:
            if tool == "brian2-standalone":
                reply = brian2_standalone_rerun(standalone_dir)
                report[tool]["walls"].append(reply["wall_s"])
            else:
                reply = workers[tool].ask("run")
                if "counts" in report[tool]:
                    report[tool]["counts"].append(reply["spikes"])
            report[tool]["runs"].append(reply["run_s"])
    for worker in workers.values():
        worker.close()


def load_average() -> str:
    """The machine's 1, 5 and 15-minute load averages, as printed at a benchmark's start and end."""
    return " ".join(f"{load:.1f}" for load in os.getloadavg())


def finish(reports: dict, json_path: str | None) -> None:
    """Print the load average at the end and, where ``--json`` named a file, write the raw figures there."""
    print(f"\nload average at the end {load_average()}")
    if json_path:
        Path(json_path).write_text(json.dumps(reports, indent=2))


def environment(**extra: str) -> dict[str, str]:
    """This process's environment, the repository root first on PYTHONPATH, updated by ``extra``."""
    env = dict(os.environ)
    repository = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = repository + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env
