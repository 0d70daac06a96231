"""The benchmark's pairing of variants measured in the same round."""

import pytest

from bench.service import paired_ratio


def test_paired_ratio_is_the_median_of_same_round_ratios_not_the_ratio_of_medians():
    # Round 2 ran on a loaded machine: both variants slowed down together.
    results = {"c": [{"round": 1, "rps": 95}, {"round": 2, "rps": 48}, {"round": 3, "rps": 99}],
               "b": [{"round": 1, "rps": 100}, {"round": 2, "rps": 50}, {"round": 3, "rps": 100}]}
    assert paired_ratio(results, "c", "b") == 0.96
    assert paired_ratio(results, "b", "c") == 100 / 96


def test_rounds_a_variant_missed_are_left_out_and_nothing_paired_gives_none():
    results = {"c": [{"round": 1, "rps": 90}, {"round": 2, "rps": 80}], "b": [{"round": 2, "rps": 100}]}
    assert paired_ratio(results, "c", "b") == 0.8
    assert paired_ratio({"c": results["c"], "b": []}, "c", "b") is None
    assert paired_ratio(results, "c", "absent") is None


# A server whose every answer costs 5 ms of its own CPU (spun, so a busy machine slows it but does not cheat it).
_SPINNING_SERVER = """
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        end = time.process_time() + 0.005
        while time.process_time() < end:
            pass
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def test_drained_rounds_charge_each_request_its_own_cpu(tmp_path):
    import sys

    from bench.service import Variant, free_port, run_rounds

    port = free_port()
    variant = Variant("spinning", "a 5 ms server", [sys.executable, "-c", _SPINNING_SERVER, str(port)], "/predict",
                      body={"instances": [[1.0, 2.0]]})
    results = run_rounds([(variant, port)], rounds=1, duration=1, work=tmp_path, drained=True)
    [run] = results["spinning"]
    assert run["round"] == 1 and run["non_2xx"] == 0 and run["requests"] > 10
    # wrk's leftovers would add a previous window's requests; drained, the CPU per request is the server's own
    assert 4_000 <= run["cpu_us_per_request"] <= 8_000


def test_a_drained_load_sends_the_body_it_is_given_each_time(tmp_path):
    from bench.service import Variant, run_drained

    import json

    from tests.bench.conftest import LoopbackServer

    server = LoopbackServer(delay=0.0)
    try:
        for rows in (1, 3):  # the same variant name with two batch sizes, as bench.own_model runs them
            variant = Variant("instrumented", "", [], "/predict", body={"instances": [[0.5]] * rows})
            run_drained(variant, server.url, 0.2, tmp_path)
            assert json.loads(server.last_body) == {"instances": [[0.5]] * rows}
        with pytest.raises(ValueError, match="has none"):
            run_drained(Variant("get-only", "", [], "/"), server.url, 0.2, tmp_path)
    finally:
        server.close()
    with pytest.raises(RuntimeError, match="instrumented: closed_loop: no request"):
        run_drained(variant, server.url, 0.2, tmp_path)
