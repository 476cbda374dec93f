// discuss-client.js: a small reference client for the discuss API.
//
// Copy it into a frontend as it is, or read it as a description of how to
// talk to the server. It is an ES module with no dependencies and no build
// step. It exports:
//
//   - DiscussClient: the live-notification socket (GET /ws). It resumes with
//     `since` after every disconnection, so no notification is lost, and
//     drops duplicates by id, so none is shown twice. It also follows the
//     discussions of posts (followPost): new comments, edits, deletions and
//     like counts, resumed after a disconnection with after_comment_id.
//     When the WebSocket cannot open although the server answers (a proxy
//     on the way strips Upgrade), it falls back to the same stream as
//     server-sent events (GET /sse, EventSource), resumed the same way;
//     that stream is one-way and follows no post.
//   - apiRequest and DiscussAPIError: one REST call with the bearer token,
//     turning the contract's error body into an exception.
//
// A minimal use:
//
//   import { DiscussClient, apiRequest } from "/static/discuss-client.js";
//
//   const list = await apiRequest("GET", "/api/v1/notifications", { token });
//   const client = new DiscussClient({
//     token,
//     onNotification: (n) => showToast(n.excerpt),
//     onUnreadCount: (unread, unseen) => setBadge(unseen),
//     onResync: () => reloadNotificationsOverREST(),
//     onAuthError: () => askToSignInAgain(),
//   });
//   client.remember(list.items.map((n) => n.id)); // resume after what REST showed
//   client.connect();
//
//   // A page showing post 12, whose thread it loaded over REST:
//   client.followPost(12, largestCommentIdLoaded);

/** An error answer of the REST API: {"error": {"code", "message"}}. */
export class DiscussAPIError extends Error {
  /**
   * @param {number} status HTTP status, or 0 when the server could not be reached.
   * @param {string} code The contract's error code, such as "not_found".
   * @param {string} message A message fit to show to the user.
   * @param {number|null} retryAfter Seconds to wait, from Retry-After (429).
   */
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = "DiscussAPIError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/**
 * Calls one REST route and returns its decoded JSON body (null for 204).
 * Every /api/v1 route but register and login needs `token`, sent as
 * "Authorization: Bearer <token>". Failures throw DiscussAPIError.
 *
 * @param {string} method
 * @param {string} path Path and query, e.g. "/api/v1/posts?sort=new".
 * @param {{token?: string, body?: unknown, baseURL?: string, signal?: AbortSignal}} [options]
 */
export async function apiRequest(method, path, { token, body, baseURL = "", signal } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(baseURL + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new DiscussAPIError(0, "unavailable", "The server cannot be reached. Check your connection and try again.");
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    // A proxy in front of the server may answer with HTML; handled below.
  }
  if (!res.ok) {
    const retry = Number.parseInt(res.headers.get("Retry-After") ?? "", 10);
    const code = data?.error?.code ?? "internal";
    const message = data?.error?.message ?? `The server answered ${res.status} ${res.statusText}.`;
    throw new DiscussAPIError(res.status, code, message, Number.isNaN(retry) ? null : retry);
  }
  return data;
}

// Close codes the client acts on (RFC 6455 and the API contract).
const CLOSE_NORMAL = 1000; // we closed it ourselves
const CLOSE_ABNORMAL = 1006; // the connection ended without a close frame
const CLOSE_POLICY = 1008; // the server refuses this client (its token)
const CLOSE_REPLACED = 4000; // the user opened more connections than allowed; this was the oldest
const CLOSE_TOKEN_EXPIRED = 4001; // the token the socket was opened with has expired
const CLOSE_PONG_TIMEOUT = 4100; // ours: the server stopped answering pings

/** Defaults, in milliseconds; the constructor takes any of them as an option. */
const DEFAULTS = {
  pingInterval: 20_000, // send an app-level ping this often...
  pongTimeout: 10_000, // ...and give up on the connection if nothing arrives this long after it
  minBackoff: 500, // first reconnection delay
  maxBackoff: 30_000, // cap of the exponential backoff
  healthyAfter: 10_000, // a connection open this long resets the backoff
  seenLimit: 2_000, // how many notification ids to remember for deduplication
};

/** How many posts one connection may follow (the server's limit). */
export const MAX_FOLLOWED_POSTS = 10;

// The frame types the server sends as events on GET /sse; an EventSource
// dispatches an event only to listeners of its type.
const STREAM_EVENTS = ["hello", "notification", "unread_count", "broadcast", "resync"];

/**
 * The live-notification socket. Every callback is optional:
 *
 *   onHello({user_id, unread_count, server_time})
 *   onNotification(notification, {replayed, unreadCount})  once per id
 *   onUnreadCount(count, unseen)  after hello, each notification, and changes of read
 *                             state or of the seen mark: the unread count, and the unseen
 *                             count (newer than the seen mark: what a bell's badge shows)
 *   onBroadcast({message, created_at})
 *   onResync()                more was missed than the server replays: reload over REST,
 *                             then call remember() with what was loaded
 *   onStatus(state, detail)   "connecting", "open" (detail.transport: "websocket" or
 *                             "eventsource"), "waiting" (to reconnect; detail.delay ms),
 *                             "offline" (disconnect() was called), "replaced" (closed by a
 *                             newer connection of this user), "stopped" (auth error or stop())
 *   onAuthError()             the token was refused or expired and no fresh one could be had;
 *                             the client stopped
 *   onFrame(frame)            every frame received, before it is handled (for debugging)
 *
 * The live thread of each followed post (followPost):
 *
 *   onComment(postId, comment, {created})  a comment or reply added (created true, once per
 *                             id, in id order; also the replay after a reconnect) or edited
 *   onCommentDeleted(postId, commentId)
 *   onPostUpdated(post)       its liked, subscription and muted are a stranger's: keep yours
 *   onPostDeleted(postId)     the post is gone; it is no longer followed
 *   onLikeCount(postId, commentId, likeCount)  commentId null for the post itself
 *   onPostResync(postId)      events were missed: reload the thread over REST
 *   onThreadError(postId, code, message)  the subscription failed ("not_found":
 *                             the post is gone, and is no longer followed)
 */
export class DiscussClient {
  /**
   * @param {object} options
   * @param {string} options.token The JWT; sent as ?token= because browsers
   *   cannot set headers on a WebSocket. The server redacts it in its logs.
   * @param {string} [options.url] The socket URL; by default /ws on the page's host.
   * @param {string} [options.streamURL] The event stream URL of the fallback; by
   *   default /sse beside options.url.
   * @param {boolean} [options.fallback] Fall back to the event stream when the
   *   WebSocket cannot open (default true).
   * @param {number|null} [options.since] The largest notification id already shown.
   * @param {(() => Promise<string|null>)|null} [options.refreshToken] Called when the
   *   server closes the socket because its token expired (4001): resolve to a fresh
   *   token and the client reconnects with it and since; resolve to null (or omit
   *   the option) and the client stops with onAuthError, for the user to sign in.
   */
  constructor({ token, url, streamURL, fallback = true, since = null, refreshToken = null, ...rest }) {
    if (!token) throw new Error("DiscussClient: a token is required");
    this.token = token;
    this.refreshToken = refreshToken;
    this.url = url ?? defaultSocketURL();
    this.streamURL = streamURL ?? streamURLBeside(this.url);
    this.fallback = fallback;
    // "websocket" until a WebSocket fails to open while the server answers
    // REST: then "eventsource", for the life of the client.
    this.transport = "websocket";
    this.opts = { ...DEFAULTS };
    this.handlers = {};
    for (const [key, value] of Object.entries(rest)) {
      if (key.startsWith("on")) this.handlers[key] = value;
      else if (key in DEFAULTS) this.opts[key] = value;
    }

    /** The largest notification id seen; the next connection resumes after it. */
    this.lastId = since;
    // Ids already handed to onNotification, oldest first (a Set keeps
    // insertion order), bounded by seenLimit. The server sends each
    // connection its notifications in increasing id order, so lastId is a
    // safe since; the set also drops what remember() was given from REST.
    this.seen = new Set();

    // The followed posts: post id -> the largest comment id seen of it (or
    // null), which the next subscription resumes after. The server sends a
    // post's comments in increasing id order, so it is always safe.
    this.posts = new Map();

    this.ws = null;
    this.es = null; // the EventSource, once on the fallback
    this.state = "idle";
    this.attempt = 0; // failed connections in a row, for the backoff
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.openedAt = 0;
    this.generation = 0; // counts open() calls, to spot stale async work

    this.onOnline = () => {
      // The network is back: do not wait out the rest of the backoff.
      if (this.state === "waiting") this.connect();
    };
    window.addEventListener("online", this.onOnline);
  }

  /** True while a socket is open and has said hello. */
  get connected() {
    return this.state === "open";
  }

  /** The readyState of the current WebSocket, or WebSocket.CLOSED when there is none. */
  get readyState() {
    return this.ws ? this.ws.readyState : WebSocket.CLOSED;
  }

  /**
   * Marks ids as seen, such as notifications loaded over REST, so the socket
   * does not report them again, and resumes after the largest.
   * @param {Iterable<number>} ids
   */
  remember(ids) {
    for (const id of ids) this.markSeen(id);
  }

  /** Opens the socket now (again), whatever state the client is in. */
  connect() {
    this.clearReconnect();
    this.closeSocket(CLOSE_NORMAL, "reconnecting");
    this.open();
  }

  /**
   * Closes the socket and stays offline until connect() is called. The next
   * connect() resumes with `since`, so what arrived meanwhile is replayed.
   */
  disconnect() {
    this.clearReconnect();
    this.closeSocket(CLOSE_NORMAL, "client disconnect");
    this.setState("offline");
  }

  /** Closes the socket for good: no reconnection, no more callbacks. */
  stop() {
    this.disconnect();
    window.removeEventListener("online", this.onOnline);
    this.setState("stopped");
    this.handlers = {};
  }

  /**
   * Marks notifications read over the socket, as POST /api/v1/notifications/read
   * does. Pass {ids: [...]} or {up_to_id: N}; up_to_id marks only ids <= N, so
   * a notification that arrives meanwhile stays unread. The server answers
   * with an unread_count frame. Returns false when no socket is open (or the
   * client is on the event stream, which is one-way): then call the REST
   * route instead.
   * @param {{ids?: number[], up_to_id?: number}} what
   */
  markRead(what) {
    const frame = { type: "read" };
    if (Array.isArray(what?.ids) && what.ids.length > 0) frame.ids = what.ids;
    else if (Number.isInteger(what?.up_to_id) && what.up_to_id > 0) frame.up_to_id = what.up_to_id;
    else throw new Error("markRead needs {ids: [...]} or {up_to_id: N}");
    return this.send(frame);
  }

  /**
   * Follows the discussion of a post on this socket, now and after every
   * reconnection. afterCommentId is the largest comment or reply id the
   * page already shows (0 for an empty thread): every comment after it is
   * sent (deleted ones excepted), then live ones, each once, in id order.
   * Without it, only what is added from now on. At most MAX_FOLLOWED_POSTS.
   * On the event stream fallback, which is one-way, nothing is followed
   * until the client is back on a WebSocket (see followsPosts).
   * @param {number} postId
   * @param {number|null} [afterCommentId]
   */
  followPost(postId, afterCommentId = null) {
    if (!this.posts.has(postId) && this.posts.size >= MAX_FOLLOWED_POSTS) {
      throw new Error(`followPost: at most ${MAX_FOLLOWED_POSTS} posts per connection`);
    }
    this.posts.set(postId, Number.isInteger(afterCommentId) ? afterCommentId : null);
    if (this.connected) this.subscribe(postId);
  }

  /** True when followed posts are live: the client is on a WebSocket. */
  get followsPosts() {
    return this.transport === "websocket";
  }

  /** Stops following a post. */
  unfollowPost(postId) {
    if (this.posts.delete(postId)) this.send({ type: "unsubscribe_post", post_id: postId });
  }

  // ---- internals ----

  subscribe(postId) {
    const after = this.posts.get(postId);
    const frame = { type: "subscribe_post", post_id: postId };
    if (after !== null && after !== undefined) frame.after_comment_id = after;
    this.send(frame);
  }

  receiveThread(frame) {
    const postId = frame.post_id;
    if (frame.type === "error") {
      if (frame.code === "not_found") this.posts.delete(postId);
      this.emit("onThreadError", postId, frame.code, frame.message);
      return;
    }
    if (!this.posts.has(postId)) return; // unfollowed meanwhile
    switch (frame.type) {
      case "comment_created": {
        const last = this.posts.get(postId);
        if (last !== null && frame.comment.id <= last) return; // shown already
        this.posts.set(postId, frame.comment.id);
        this.emit("onComment", postId, frame.comment, { created: true });
        break;
      }
      case "comment_updated":
        this.emit("onComment", postId, frame.comment, { created: false });
        break;
      case "comment_deleted":
        this.emit("onCommentDeleted", postId, frame.comment_id);
        break;
      case "post_updated":
        this.emit("onPostUpdated", frame.post);
        break;
      case "post_deleted":
        this.posts.delete(postId);
        this.emit("onPostDeleted", postId);
        break;
      case "like_count":
        this.emit("onLikeCount", postId, frame.comment_id, frame.like_count);
        break;
      case "post_resync":
        this.emit("onPostResync", postId);
        break;
      default:
        break; // post_subscribed
    }
  }

  // startConnecting begins a connection attempt of either transport and
  // returns its URL: base with the token and, once a notification has been
  // seen, since.
  startConnecting(base) {
    const url = new URL(base);
    url.searchParams.set("token", this.token);
    if (this.lastId !== null) url.searchParams.set("since", String(this.lastId));
    this.setState("connecting");
    this.generation++;
    // Set again when this attempt opens, so that afterClose can tell
    // whether it did; an attempt given up cannot set it (closeSocket drops
    // its handlers).
    this.openedAt = 0;
    return url;
  }

  open() {
    if (this.transport === "eventsource") {
      this.openStream();
      return;
    }
    const ws = new WebSocket(this.startConnecting(this.url));
    this.ws = ws;
    ws.onopen = () => {
      this.openedAt = Date.now();
      this.startPinging();
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return; // an older socket we already let go of
      this.ws = null;
      this.stopPinging();
      this.afterClose(ev.code);
    };
    // onerror is always followed by onclose, which decides what to do.
  }

  // openStream opens the fallback: the same frames as server-sent events,
  // each named after its frame's type. The server's close codes come as a
  // "close" event. An EventSource would reconnect by itself (sending the
  // last notification id as Last-Event-ID), but without backoff, token
  // renewal or the checks below: the client closes it on any error and
  // reconnects as it does a WebSocket, with since.
  openStream() {
    const es = new EventSource(this.startConnecting(this.streamURL));
    this.es = es;
    es.onopen = () => {
      this.openedAt = Date.now();
    };
    for (const type of STREAM_EVENTS) es.addEventListener(type, (ev) => this.receive(ev.data));
    es.addEventListener("close", (ev) => {
      if (this.es !== es) return;
      let code = CLOSE_ABNORMAL;
      try {
        code = JSON.parse(ev.data).code ?? code;
      } catch {
        // keep 1006
      }
      this.closeSocket(CLOSE_NORMAL, "server closed");
      this.afterClose(code);
    });
    es.onerror = () => {
      if (this.es !== es) return;
      // A refused stream (401, 403, 429) and a dropped one look alike
      // here; afterClose asks REST about the token when it never opened.
      this.closeSocket(CLOSE_NORMAL, "stream error");
      this.afterClose(CLOSE_ABNORMAL);
    };
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return; // not ours to understand; the server only sends JSON
    }
    // Any frame proves the connection is alive, not only a pong.
    this.armPongTimer();
    this.emit("onFrame", frame);
    switch (frame.type) {
      case "hello":
        this.setState("open", { transport: this.transport });
        this.emit("onHello", frame);
        this.emit("onUnreadCount", frame.unread_count, frame.unseen_count);
        // Follow the posts again, each after the last comment seen of it.
        for (const postId of this.posts.keys()) this.subscribe(postId);
        break;
      case "notification": {
        const n = frame.notification;
        if (n && !this.seen.has(n.id)) {
          this.markSeen(n.id);
          this.emit("onNotification", n, { replayed: !!frame.replayed, unreadCount: frame.unread_count });
        }
        this.emit("onUnreadCount", frame.unread_count, frame.unseen_count);
        break;
      }
      case "unread_count":
        this.emit("onUnreadCount", frame.unread_count, frame.unseen_count);
        break;
      case "broadcast":
        this.emit("onBroadcast", { message: frame.message, created_at: frame.created_at });
        break;
      case "resync":
        this.emit("onResync");
        break;
      case "pong":
        break; // armPongTimer above did the work
      case "post_subscribed":
      case "comment_created":
      case "comment_updated":
      case "comment_deleted":
      case "post_updated":
      case "post_deleted":
      case "like_count":
      case "post_resync":
      case "error":
        this.receiveThread(frame);
        break;
      default:
        break; // a newer server may send frames this client does not know
    }
  }

  // afterClose decides what follows the end of the current attempt, closed
  // with code; whether it had opened is in openedAt (see startConnecting).
  afterClose(code) {
    if (this.state === "offline" || this.state === "stopped") return;
    const opened = this.openedAt !== 0;
    // A connection that stayed up a while was healthy: start the backoff over.
    if (opened && Date.now() - this.openedAt >= this.opts.healthyAfter) this.attempt = 0;

    if (code === CLOSE_POLICY) {
      this.authFailed();
      return;
    }
    if (code === CLOSE_TOKEN_EXPIRED) {
      this.renewToken();
      return;
    }
    if (code === CLOSE_REPLACED) {
      // This user opened too many connections and this one was the oldest.
      // Reconnecting would close another tab, which would reconnect and
      // close ours: stay closed until the application calls connect(), say
      // when the user comes back to this tab.
      this.setState("replaced");
      return;
    }
    if (!opened) {
      // A refused handshake (401 for a bad token, 403 for a foreign origin)
      // reaches JavaScript only as a close with code 1006, without the
      // status. Ask the REST API whether the token is still good.
      const generation = this.generation;
      this.checkToken().then((answer) => {
        // Nothing to do if disconnect() or connect() was called meanwhile.
        if (generation !== this.generation || this.state !== "connecting") return;
        if (answer === "refused") {
          this.authFailed();
        } else if (answer === "ok" && this.transport === "websocket" && this.fallback) {
          // The server answers and takes the token, yet the WebSocket did
          // not open: something on the way (a proxy that strips Upgrade)
          // blocks WebSockets. Go on over the event stream at once.
          this.transport = "eventsource";
          this.open();
        } else {
          this.scheduleReconnect();
        }
      });
      return;
    }
    // 1001 (server shutting down), 1013 (we read too slowly), 1006 (network),
    // our pong timeout and the rest: reconnect, resuming with since.
    this.scheduleReconnect();
  }

  // checkToken asks REST whether the token is good: "ok", "refused" (a
  // definite 401, which stops the client), or "unknown" (the server could
  // not be asked: it may be down, or restarting).
  async checkToken() {
    try {
      await apiRequest("GET", "/api/v1/me", { token: this.token, baseURL: httpBase(this.url) });
      return "ok";
    } catch (err) {
      return err instanceof DiscussAPIError && err.status === 401 ? "refused" : "unknown";
    }
  }

  // renewToken asks the application for a fresh token after a 4001 and
  // reconnects with it at once, resuming with since; without one the user
  // has to sign in again.
  async renewToken() {
    const generation = this.generation;
    let token = null;
    try {
      token = this.refreshToken ? await this.refreshToken() : null;
    } catch {
      token = null;
    }
    if (generation !== this.generation || this.state === "offline" || this.state === "stopped") return;
    if (!token) {
      this.authFailed();
      return;
    }
    this.token = token;
    this.open();
  }

  authFailed() {
    this.clearReconnect();
    this.setState("stopped");
    this.emit("onAuthError");
  }

  scheduleReconnect() {
    // Exponential backoff with "equal jitter": half of the delay is fixed,
    // the other half random, so that thousands of clients dropped by one
    // server restart do not all come back in the same millisecond.
    const exp = Math.min(this.opts.maxBackoff, this.opts.minBackoff * 2 ** this.attempt);
    const delay = Math.round(exp / 2 + Math.random() * (exp / 2));
    this.attempt = Math.min(this.attempt + 1, 30);
    this.setState("waiting", { delay });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, delay);
  }

  clearReconnect() {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  // The server pings at the WebSocket level and the browser answers those by
  // itself; JavaScript can neither see them nor send its own. So the client
  // sends {"type":"ping"} and expects a frame back: without one, the network
  // may have dropped the connection without telling either end.
  startPinging() {
    this.stopPinging();
    this.armPongTimer();
    this.pingTimer = setInterval(() => this.send({ type: "ping" }), this.opts.pingInterval);
  }

  armPongTimer() {
    // The event stream's keep-alives are comments, which an EventSource
    // does not show: silence there says nothing, so nothing is timed.
    if (!this.ws) return;
    if (this.pongTimer !== null) clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(() => {
      this.pongTimer = null;
      const ws = this.ws;
      if (!ws) return;
      // A dead connection can take minutes to report its close, so let go of
      // it now and reconnect.
      this.closeSocket(CLOSE_PONG_TIMEOUT, "pong timeout");
      this.afterClose(CLOSE_PONG_TIMEOUT);
    }, this.opts.pingInterval + this.opts.pongTimeout);
  }

  stopPinging() {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    if (this.pongTimer !== null) clearTimeout(this.pongTimer);
    this.pingTimer = this.pongTimer = null;
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // closeSocket closes the current socket or event stream, if any, and
  // forgets it at once: its close event, whenever it comes, is ignored.
  closeSocket(code, reason) {
    const es = this.es;
    if (es) {
      this.es = null;
      es.onopen = es.onerror = null;
      es.close();
    }
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    this.stopPinging();
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(code, reason);
  }

  markSeen(id) {
    if (!Number.isInteger(id)) return;
    this.seen.add(id);
    if (this.seen.size > this.opts.seenLimit) {
      // Forget the oldest id; the ids that matter for duplicates are recent.
      this.seen.delete(this.seen.values().next().value);
    }
    if (this.lastId === null || id > this.lastId) this.lastId = id;
  }

  setState(state, detail = {}) {
    this.state = state;
    this.emit("onStatus", state, detail);
  }

  emit(name, ...args) {
    const fn = this.handlers[name];
    if (!fn) return;
    try {
      fn(...args);
    } catch (err) {
      // A bug in the application's callback must not break the socket.
      console.error(`DiscussClient ${name} callback failed`, err);
    }
  }
}

/** ws://host/ws or wss://host/ws for the page's own host. */
function defaultSocketURL() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

/** The event stream URL beside a socket URL: ws://host/ws -> http://host/sse. */
function streamURLBeside(socketURL) {
  const u = new URL(socketURL);
  u.protocol = u.protocol === "wss:" ? "https:" : "http:";
  u.pathname = u.pathname.replace(/\/ws$/, "/sse");
  return u.toString();
}

/** The http(s) origin of a ws(s) URL, for the REST check of the token. */
function httpBase(socketURL) {
  const u = new URL(socketURL);
  u.protocol = u.protocol === "wss:" ? "https:" : "http:";
  return u.origin;
}
