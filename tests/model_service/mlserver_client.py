"""Runs inside MLServer's own virtual environment (requirements/mlserver.lock),
never in modelwatch's: a client written the way MLServer's users write one.

Reads {"rest", "grpc", "key", "model", "rows", "categorical"} as JSON on
stdin; encodes the rows with MLServer's ``PandasCodec`` (the tabular ``pd``
convention), sends them over OIP REST (MLServer's pydantic types as the body)
and OIP gRPC (MLServer's own generated stubs and converters), and decodes each
answer with MLServer's codecs. Prints {"rest": …, "grpc": …}, each output name
-> its values as lists, or the status and body of a refusal. Over gRPC only the rows without a missing number go
(and "rows" says which): MLServer's converter cannot put its null for NaN in a
protobuf number.
"""

import json
import sys
import urllib.error
import urllib.request

import grpc
import numpy as np
import pandas as pd
from mlserver.codecs import NumpyCodec, PandasCodec, StringCodec
from mlserver.grpc import dataplane_pb2_grpc
from mlserver.grpc.converters import ModelInferRequestConverter, ModelInferResponseConverter
from mlserver.types import InferenceResponse


def decoded(response: InferenceResponse) -> dict:
    answer = {"id": response.id}
    for output in response.outputs:
        codec = StringCodec if output.datatype == "BYTES" else NumpyCodec
        values = codec.decode_output(output)
        answer[output.name] = values.tolist() if isinstance(values, np.ndarray) else list(values)
    return answer


def main() -> None:
    job = json.load(sys.stdin)
    frame = pd.DataFrame(job["rows"])
    for name in frame.columns:  # MLServer's codec takes strings as object columns, numbers as floats
        frame[name] = frame[name].astype(object if name in job["categorical"] else "float64")
    request = PandasCodec.encode_request(frame)
    request.id = "mlserver-codecs"

    http = urllib.request.Request(f"{job['rest']}/v2/models/{job['model']}/infer", method="POST",
                                  data=request.model_dump_json(exclude_none=True).encode(),
                                  headers={"Content-Type": "application/json", "X-API-Key": job["key"]})
    try:
        with urllib.request.urlopen(http, timeout=30) as answer:
            rest = decoded(InferenceResponse.model_validate_json(answer.read()))
    except urllib.error.HTTPError as refused:
        rest = {"status": refused.code, "body": json.loads(refused.read())}

    complete = frame.dropna()
    request = PandasCodec.encode_request(complete.reset_index(drop=True))
    request.id = "mlserver-codecs"
    with grpc.insecure_channel(job["grpc"]) as channel:
        stub = dataplane_pb2_grpc.GRPCInferenceServiceStub(channel)
        message = ModelInferRequestConverter.from_types(request, model_name=job["model"], model_version=None)
        try:
            reply = stub.ModelInfer(message, metadata=[("x-api-key", job["key"])], timeout=30)
            over_grpc = {**decoded(ModelInferResponseConverter.to_types(reply)), "rows": complete.index.tolist()}
        except grpc.RpcError as refused:
            over_grpc = {"status": refused.code().name, "body": refused.details()}
    json.dump({"rest": rest, "grpc": over_grpc}, sys.stdout)


if __name__ == "__main__":
    main()
