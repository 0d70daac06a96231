"""Locust users of the Open Inference Protocol over gRPC (``modelwatch load
--protocol grpc``): batches of the model's reference rows as ModelInfer calls,
one input per feature (FP64 numbers, missing ones NaN; BYTES categories), and a
small share of calls naming an input the model does not have, which must get
INVALID_ARGUMENT (counted as expected, not as failures). Each call is reported
to Locust as a request of type "grpc", so its reports and the SLO gate read the
same way as for HTTP."""

from __future__ import annotations

import math
import random
import time

import grpc
import grpc.experimental.gevent as grpc_gevent
from locust import User, task

from modelwatch.loadtests.users import SampleRows
from modelwatch.protocol import open_inference_grpc_pb2 as pb
from modelwatch.protocol import open_inference_grpc_pb2_grpc as pb_grpc

grpc_gevent.init_gevent()  # Locust runs users as gevent greenlets: gRPC's blocking calls must yield to them


def infer_request(model: str, rows: list[dict], categorical: set[str]) -> pb.ModelInferRequest:
    """Rows as the tabular convention's columns."""
    request = pb.ModelInferRequest(model_name=model)
    for name in rows[0]:
        values = [row[name] for row in rows]
        tensor = request.inputs.add(name=name, shape=[len(rows), 1])
        if name in categorical:
            tensor.datatype = "BYTES"
            tensor.contents.bytes_contents.extend(str(v).encode() for v in values)
        else:
            tensor.datatype = "FP64"
            tensor.contents.fp64_contents.extend(math.nan if v is None else float(v) for v in values)
    return request


class GrpcModelUser(SampleRows, User):
    abstract = True
    target = ""  # host:port of the service's gRPC port

    def on_start(self):
        super().on_start()
        # BYTES has no null: rows with a missing category are left to the HTTP users
        self.usable = [r for r in self.rows if all(r[name] is not None for name in self.categories)] or self.rows
        self.channel = grpc.insecure_channel(self.target)
        self.stub = pb_grpc.GRPCInferenceServiceStub(self.channel)
        self.metadata = (("x-api-key", self.api_key),)

    def on_stop(self):
        self.channel.close()

    def row(self) -> dict:
        return self.transform(random.choice(self.usable), self.categories)

    def _call(self, name: str, request: pb.ModelInferRequest, expected=grpc.StatusCode.OK) -> None:
        started, length, exception = time.perf_counter(), 0, None
        try:
            length = self.stub.ModelInfer(request, metadata=self.metadata, timeout=30).ByteSize()
            if expected != grpc.StatusCode.OK:
                exception = AssertionError(f"expected {expected.name}, got OK")
        except grpc.RpcError as exc:
            if exc.code() != expected:
                exception = exc
        self.environment.events.request.fire(request_type="grpc", name=name, response_length=length,
                                             response_time=(time.perf_counter() - started) * 1000,
                                             exception=exception, context={})

    @task(9)
    def infer(self):
        rows = [self.row() for _ in range(random.randint(1, 20))]
        self._call(f"ModelInfer {self.model}", infer_request(self.model, rows, set(self.categories)))

    @task(1)
    def invalid(self):
        request = infer_request(self.model, [self.row()], set(self.categories))
        request.inputs[0].name = "?"
        self._call("invalid [unknown_input]", request, expected=grpc.StatusCode.INVALID_ARGUMENT)
