"""grpcio (C-core) implementation of transport.testing.v1.TestService, the interop peer for our C# client.

Usage: interop_server.py STUBS_DIR
Binds 127.0.0.1 on a free port and prints the port on the first line of stdout.
"""
import sys
import threading
from concurrent import futures

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
from transport.testing.v1 import test_service_pb2 as pb  # noqa: E402
from transport.testing.v1 import test_service_pb2_grpc as pb_grpc  # noqa: E402

MAX_MESSAGE = 64 * 1024 * 1024


def status_code(number):
    return next(code for code in grpc.StatusCode if code.value[0] == number)


class CallLedger:
    """How each named call ended on this server, so a client can wait for the server's view."""

    def __init__(self):
        self._lock = threading.Lock()
        self._ends = {}

    def _entry(self, call_id):
        with self._lock:
            return self._ends.setdefault(call_id, [threading.Event(), None])

    def ended(self, call_id, cancelled):
        if not call_id:
            return
        entry = self._entry(call_id)
        with self._lock:
            if entry[1] is None:
                entry[1] = cancelled
        entry[0].set()

    def wait(self, call_id, timeout):
        entry = self._entry(call_id)
        if not entry[0].wait(timeout):
            return None
        return entry[1]


class TestService(pb_grpc.TestServiceServicer):
    def __init__(self):
        self.ledger = CallLedger()

    @staticmethod
    def _terminated(context):
        done = threading.Event()
        context.add_callback(done.set)
        return done

    @staticmethod
    def _echo_metadata(context):
        echoed = [(key, value) for key, value in context.invocation_metadata() if key.startswith("x-")]
        if echoed:
            context.send_initial_metadata(echoed)
            context.set_trailing_metadata(echoed)

    @staticmethod
    def _reply(request, index):
        payload = bytes(request.reply_payload_size) if request.reply_payload_size else request.payload
        return pb.EchoReply(text=request.text, payload=payload, index=index)

    def _fail_if_asked(self, request, context):
        if request.fail_with_code:
            context.abort(status_code(request.fail_with_code), request.fail_with_message)

    def Echo(self, request, context):
        done = self._terminated(context)
        self._echo_metadata(context)
        if request.reply_interval_ms and done.wait(request.reply_interval_ms / 1000):
            self.ledger.ended(request.call_id, True)
            return pb.EchoReply()
        self.ledger.ended(request.call_id, False)
        self._fail_if_asked(request, context)
        return self._reply(request, 0)

    def Count(self, request, context):
        done = self._terminated(context)
        self._echo_metadata(context)
        try:
            for index in range(request.reply_count):
                if request.reply_interval_ms and done.wait(request.reply_interval_ms / 1000):
                    self.ledger.ended(request.call_id, True)
                    return
                yield self._reply(request, index)
        except GeneratorExit:
            self.ledger.ended(request.call_id, True)
            raise
        self.ledger.ended(request.call_id, not context.is_active())
        self._fail_if_asked(request, context)

    def Collect(self, request_iterator, context):
        texts = []
        for request in request_iterator:
            self._fail_if_asked(request, context)
            texts.append(request.text)
        return pb.EchoReply(text=" ".join(texts), index=len(texts))

    def Chat(self, request_iterator, context):
        for index, request in enumerate(request_iterator):
            self._fail_if_asked(request, context)
            yield self._reply(request, index)

    def WaitForCallEnd(self, request, context):
        cancelled = self.ledger.wait(request.call_id, context.time_remaining())
        if cancelled is None:
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "call %s did not end" % request.call_id)
        return pb.CallEnd(cancelled=cancelled)


def main():
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=64),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
        ],
    )
    pb_grpc.add_TestServiceServicer_to_server(TestService(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    # Stop when the parent closes our stdin, as well as when it kills us.
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
