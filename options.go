package sailsio

// Protocol selects the Engine.IO protocol revision spoken on the wire.
type Protocol int

// Engine.IO protocol revisions.
const (
	// EIO3 is Engine.IO v3 with Socket.IO protocol v4: what sails.io.js 1.2.1 speaks and what every
	// Sails 1.x server (sails-hook-sockets 2.x and 3.x) accepts. The client pings the server.
	EIO3 Protocol = 3
	// EIO4 is Engine.IO v4 with Socket.IO protocol v5: accepted only by sails-hook-sockets 3.x.
	// The server pings the client, and the client must connect the namespace with a CONNECT packet.
	EIO4 Protocol = 4
)
