// Package notify delivers live notifications over WebSocket, or, for
// clients that cannot open one, over an event stream (server-sent events).
//
// A Hub holds the connections of this instance, grouped by user.
// Changes reach it through a Broker (in-process, or Redis pub/sub when
// several instances run behind a load balancer): the service publishes after
// commit, every instance's hub receives the message and writes it to its own
// connections of that user. The database stays the source of truth; anything
// the broker drops is read again through the Store by notification id.
//
// Each connection has a reader goroutine for its whole life, and one
// goroutine at a time has the writer's turn (client.writing), which owns
// every data write: a writer goroutine while frames are queued, or, for a
// frame queued while nothing else is and that needs no Store read, the
// goroutine that queues it, which writes it in place without waiting (see
// sockConn and client.writeHere); a broadcast takes the turn of every
// connection where nothing is queued, under the hub's lock, and a few
// goroutines then write it to them all (Hub.toAll). On connect the
// connection is registered for live delivery first and its replay read
// from the Store, before the WebSocket is upgraded (Hub.Admit); then the
// 101 response, hello and the replay go out in one write
// (Hub.ServeAdmitted), then live frames, including what was published
// meanwhile. An admitted connection counts among the hub's connections at
// once, and against its user's limit once served.
//
// An event stream (ServeEvents) is the same connection over another
// transport: the writer writes each frame as an event, pings as comment
// lines, and a close code as a close event; everything that decides what
// is written and in what order (the replay, the cursor, the catch-ups, the
// queue, the limits) is shared. Its client sends nothing, so it has no
// reader: the request's goroutine waits for the stream to end instead.
//
// # Order
//
// On each connection a user's notifications go out in increasing id order,
// replayed and live alike, so that the largest id a client has seen is
// always a safe since. Publishes do not arrive in that order: each follows
// its own commit on its own goroutine, on any instance, through a broker
// that may also lose some. So every notification carries its number in its
// user's sequence (model.Notification.Seq), given out under the user row's
// lock in the transaction that writes it: one user's notifications commit
// in id order and in seq order, with no number skipped. A connection
// remembers how far it has sent (cursor); a live notification numbered one
// past that is sent at once, one already covered is dropped as a
// duplicate, and one further ahead shows that its predecessors committed
// but have not arrived. The writer then reads them from the Store by id
// and sends them, in order, before it sends anything newer; a
// predecessor's message that turns up later finds it settled. A gap whose
// notifications were deleted meanwhile (with their comment) is settled by
// that read, which finds nothing there.
//
// Other designs were weighed. Holding an out-of-order frame for a moment
// in the hope that its predecessor arrives saves a read in the common case
// but turns a lost message into a delay on every later one, and still
// needs the read; ordering by id alone cannot tell a gap from another
// user's id. A number per user that the Store already orders is the one
// thing that makes "something is missing" a fact rather than a guess.
//
// After the broker subscription is re-established (messages may have been
// lost), the hub reads the sequence numbers of its connected users a few
// hundred at a time and compares each with the lowest point the user's
// connections have sent to (each cursor publishes a copy for it). Users
// that missed nothing cost nothing more; the missed notifications of the
// others are read for up to 200 users in one Store call and handed to
// their connections, which send what they lack in order. A read per
// connection was the first version: after a blip that every user felt it
// made thousands of reads at once, and 15,000 connections took over 15 s
// to catch up where batches take under 4. Every Store call made for
// connections takes one of Options.StoreConcurrency turns, so a reconnect
// storm or a resubscribe with thousands of connections queues at the hub
// instead of timing out in the database pool.
//
// # Read frames
//
// A read frame marks notifications read through the Store: an UPDATE, a
// COUNT and a publish, on the connection's reader. The read frames of one
// user's connections share one pace (readPacer): Options.ReadFrameBurst at
// once, then one every Options.ReadFrameInterval (5, then 10 a second, by
// default). A faster frame waits its turn, and the reader with it, so the
// client is slowed down (TCP holds what it sends meanwhile), not refused,
// and the database does at most that much for one account however many
// frames and sockets it sends them on. Ignoring the excess would leave a
// client believing in marks never made; closing the socket (1008) would
// cost a reconnect and a replay, dearer than the reads it spares.
// subscribe_post frames, each a read of the post's head and replay, take
// their turns from the same pace.
//
// # Live thread
//
// A connection may also follow posts (subscribe_post): their comments,
// edits, deletions and like counts reach it as they commit, on the same
// queue as its notifications. A post's comment_created frames go out in
// comment-id order, ordered once per instance and post by a feed rather
// than per connection; thread.go explains how, and thread_subscribe.go the
// seam between a subscription's replay and the live events.
//
// A connection ends with the token that opened it: when the token expires,
// the hub closes it with 4001 and the client reconnects with a fresh one.
//
// Most connections are idle most of the time, so an idle one holds as
// little as it can: its reader goroutine (gorilla's reads block), a 256-byte
// read buffer, and no writer. A writer goroutine runs only while the queue
// has frames, and one at a time (client.writing); the hub's one ping loop
// queues each connection's ping once a PingInterval, in 250 rounds spread
// over it. gorilla's chat example keeps a writer and a ticker per
// connection instead; at 15,000 idle connections that was 19.9 KiB each,
// against 11.7 KiB then. A hot post's feed writes each comment to its
// subscribers in place, and a batch of them, when it fell behind, in one
// write per subscriber (client.cork), rather than waking a writer
// goroutine per subscriber per comment. So is a broadcast (Hub.toAll):
// a writer goroutine started for each of 15,000 connections took an eighth
// of the server's CPU for it and held the hub's lock for nearly all of it.
package notify
