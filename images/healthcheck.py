"""The images' HEALTHCHECK: exits 0 when http://127.0.0.1:<port><path> answers
2xx within 2 s, the port read from the environment variable the server uses.
Usage: healthcheck.py PORT_VARIABLE DEFAULT_PORT PATH"""

import os
import sys
import urllib.request

port_variable, default_port, path = sys.argv[1:]
urllib.request.urlopen(f"http://127.0.0.1:{os.environ.get(port_variable, default_port)}{path}", timeout=2)
