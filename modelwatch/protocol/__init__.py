"""The Open Inference Protocol's gRPC messages and service stubs, generated from
the published .proto (see README.md here): the wire format the service serves
(model_service/oip_grpc.py) and the load tests and the probe speak."""
