// Package notify delivers live notifications over WebSocket.
//
// A Hub holds the WebSocket connections of this instance, grouped by user.
// Changes reach it through a Broker (in-process, or Redis pub/sub when
// several instances run behind a load balancer): the service publishes after
// commit, every instance's hub receives the message and writes it to its own
// connections of that user. The database stays the source of truth; anything
// the broker drops is read again through the Store by notification id.
//
// Each connection runs two goroutines, the floor with gorilla/websocket: a
// reader, and a writer that owns every data write and sends the pings. On
// connect the connection is registered for live delivery first, then it is
// sent hello and a replay from the Store, then live frames; live frames whose
// id was already sent are skipped, so each notification arrives once per
// connection.
//
// Delivery relies on the invariant documented on model.Notification: for
// one recipient, notifications commit in id order. Then, once a Store read
// has returned a user's notifications up to id M, no notification of that
// user with an id at or below M can still appear.
package notify
