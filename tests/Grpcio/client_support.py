"""What the grpcio clients (kserve_client.py, preprocessor_client.py) report the same way."""

import base64

import grpc


def status(error):
    """A failed call as the tests read it: code, message, text trailers and the google.rpc.Status details as base64."""
    trailers = error.trailing_metadata() or ()
    # google.rpc.Status in grpc-status-details-bin is handed back as bytes for the test to parse with its own types.
    details_bin = next((value for key, value in trailers if key == "grpc-status-details-bin"), b"")
    return {"code": error.code().name, "details": error.details(),
            "trailers": {key: value for key, value in trailers if not key.endswith("-bin")},
            "status_details_base64": base64.b64encode(details_bin).decode("ascii")}


def cancel_after(call, messages):
    """Reads a server stream and cancels it once `messages` have arrived; what the client saw, as JSON."""
    received = 0
    try:
        for _ in call:
            received += 1
            if received == messages:
                call.cancel()
    except grpc.RpcError as error:
        return {"received": received, **status(error)}
    return {"received": received, "code": "OK"}
