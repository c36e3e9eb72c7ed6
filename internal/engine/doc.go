// Package engine is one Engine.IO + Socket.IO session of a client: the handshake, the heartbeat,
// packet framing and the matching of acks to the requests that asked for them, over a Transport that
// carries frames: a WebSocket, or HTTP long-polling (Polling), from which a session can upgrade to
// a WebSocket (Upgrade).
//
// A Session knows nothing of Sails requests or of event names: it hands events to a Handler and acks
// to the Acker each request registered, and reports once, through the Handler, why it ended by
// itself. The client's connection life (connect, reconnect, close, backoff) is one layer up.
//
// Goroutines of a session: one reader, started by Start, that reads frames until the transport ends;
// a writer that exists only while frames wait to be written; timers (time.AfterFunc) for the
// heartbeat; during an upgrade, one goroutine that probes the new transport and swaps it in. Close
// waits for all of them.
package engine
