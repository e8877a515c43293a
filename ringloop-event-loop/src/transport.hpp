// ringloop.SocketTransport: asyncio's stream-socket transport (what create_server,
// create_connection and the streams hand to a protocol) on io_uring.
//
// Receiving: one multishot recv per connection into the loop's provided buffers; each
// completion's bytes go straight to protocol.data_received (or into get_buffer()'s buffer).
// Sending: write() queues the bytes (a reference, or a copy of a mutable buffer); before the
// loop next waits, everything queued goes to the kernel as one send or sendmsg, with at most
// one in flight per connection so the order holds. close()/abort() cancel what is in flight;
// connection_lost follows on the next iteration, as with asyncio's transports, and a request's
// late completion only releases what the request held (the transport, the bytes it sent).
#pragma once

#include "core.hpp"

namespace ringloop {

// The Python object. The type derives from asyncio.Transport, whose only instance field is
// BaseTransport's `_extra` slot: `extra` sits at that slot's offset (checked at import).
struct TransportObject {
  PyObject_HEAD PyObject* extra;  // dict: get_extra_info()'s answers
  PyObject* weakreflist;
  PyObject* loop;      // the ringloop.Loop
  PyObject* sock;      // the socket.socket; closed after connection_lost, then null
  PyObject* protocol;  // null after connection_lost
  PyObject* server;    // asyncio.Server or null
  Conn* conn;          // the C++ state
};

// Creates the type with `transport_base` (asyncio.Transport) as its base; sets an ImportError
// and returns null if its layout is not the one this file expects. Keeps `buffered_protocol`
// (asyncio.BufferedProtocol) to tell the two protocol kinds apart.
PyObject* create_transport_type(PyObject* transport_base, PyObject* buffered_protocol);

// Completions of a transport's requests (Core::complete). -1 with SystemExit or
// KeyboardInterrupt set when a protocol callback raised one; other errors go where asyncio's
// transports send them (the loop's exception handler, then the transport is closed).
int on_recv(Core& core, Conn& c, int res, unsigned flags);
int on_send(Core& core, Conn& c, int res);
// Hands what the transport queued to the kernel (Core::poll, before it waits).
void flush(Core& core, PyObject* transport);

}  // namespace ringloop
