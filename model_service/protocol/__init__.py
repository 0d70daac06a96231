"""The Open Inference Protocol's gRPC messages and service stubs, generated from
the published .proto (see README.md here); model_service/oip_grpc.py serves them."""
