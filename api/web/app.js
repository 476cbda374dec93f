// The demo page: plain DOM code over the REST API and DiscussClient. It is
// deliberately small; a real frontend would use its own framework and keep
// only the patterns (bearer token on every call, one socket resumed with
// since, REST reload on resync, the open post followed live from the
// largest comment id it shows).
//
// Every piece of user text reaches the page through textContent, never
// innerHTML, so that it cannot inject markup; the one exception is the
// body_html of posts and comments, which the server rendered from Markdown
// and sanitised (see setBodyHTML).

import { DiscussClient, DiscussAPIError, apiRequest } from "./discuss-client.js";

const TOKEN_KEY = "discuss.token";
const USER_KEY = "discuss.user";

const $ = (id) => document.getElementById(id);

const state = {
  token: null,
  user: null,
  client: null,
  sort: "new",
  postsCursor: null,
  postId: null, // the open post
  post: null, // the open post as last read
  authorId: null, // the posts list shows only this author's (#/users/ID)
  editing: null, // {id, value}: the comment being edited, kept across re-renders
  commentsCursor: null,
  expanded: new Set(), // threads of the open post shown with all their replies
  highlight: null, // the comment a clicked notification is about
  revealed: new Set(), // spoilers and blocked users' content the reader chose to show: "post:1", "comment:2"
  // The bell lists groups (GET /notifications/grouped); ids are every
  // notification id the page has been shown, for the socket's resume and
  // for "mark all read".
  groups: [],
  groupsCursor: null,
  ids: new Set(),
  unread: 0,
  unseen: 0,
  // Moves with every change of the counts shown; see loadNotifications.
  countsVersion: 0,
};

// Frames of the current page's socket, for the browser test and for anyone
// curious in the console: window.discuss.frames, .disconnect(), .connect().
const debug = {
  frames: [],
  get client() {
    return state.client;
  },
  disconnect() {
    state.client?.disconnect();
  },
  connect() {
    state.client?.connect();
  },
};
window.discuss = debug;

// ---- REST and errors ----

function api(method, path, body) {
  return apiRequest(method, path, { token: state.token, body });
}

function showError(err) {
  if (err instanceof DiscussAPIError && err.status === 401 && state.token) {
    signOut("Your session has expired. Sign in again.");
    return;
  }
  let text;
  if (err instanceof DiscussAPIError) {
    text = err.message;
    if (err.code) text += ` (${err.code})`;
    if (err.retryAfter) text += ` Try again in ${err.retryAfter} s.`;
  } else {
    console.error(err);
    text = `Something went wrong: ${err?.message ?? err}`;
  }
  $("error-text").textContent = text;
  $("error").dataset.code = err?.code ?? "";
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

// run wraps an event handler: it clears the last error, disables the
// control that started it while the request runs, and shows any failure.
function run(control, fn) {
  return async (ev) => {
    ev?.preventDefault?.();
    clearError();
    if (control) control.disabled = true;
    try {
      await fn(ev);
    } catch (err) {
      showError(err);
    } finally {
      if (control) control.disabled = false;
    }
  };
}

// ---- small DOM helpers ----

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (/^data[A-Z]/.test(key)) node.setAttribute(key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// nameOf shows an author as their display name with the @username beside
// it: a display name is free text and may copy another user's name, the
// username is unique. The display name is isolated (U+2068 ... U+2069), so
// that bidirectional controls in a name stored before the server refused
// them cannot reorder the @username or the text around it.
function nameOf(author) {
  if (!author) return "[deleted]";
  const handle = `@${author.username}`;
  if (!author.display_name || author.display_name === author.username) return handle;
  return `\u2068${author.display_name}\u2069 ${handle}`;
}

function when(ts) {
  const d = new Date(ts);
  return el("time", { dateTime: ts, text: d.toLocaleString() });
}

// count says "1 comment", "2 comments".
function count(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

// setBodyHTML shows a post's or comment's body_html. It is the only
// markup the page inserts from the server: rendered from Markdown and
// sanitised there (no script, style, event handler or javascript: URL;
// raw HTML in a body arrives as text), and the page's Content-Security-
// Policy runs no inline script anyway.
function setBodyHTML(node, html) {
  node.innerHTML = html;
}

// mayModerate: moderators and admins may edit and delete others' posts,
// and delete others' comments.
function mayModerate() {
  return state.user?.role === "moderator" || state.user?.role === "admin";
}

// likeLabel fills a like button from {like_count, liked}.
function likeLabel(btn, { like_count, liked }) {
  btn.textContent = `${liked ? "♥" : "♡"} ${like_count}`;
  btn.setAttribute("aria-pressed", String(liked));
  btn.setAttribute("aria-label", `${liked ? "Unlike" : "Like"} (${count(like_count, "like")})`);
  btn.dataset.liked = String(liked);
  btn.dataset.count = String(like_count);
}

// confirmFirst makes a destructive button ask once: the first click
// turns it into "Really delete?", the second does it.
function confirmFirst(btn, label, fn) {
  btn.textContent = label;
  btn.addEventListener("blur", () => {
    delete btn.dataset.armed;
    btn.textContent = label;
  });
  btn.addEventListener(
    "click",
    run(btn, async () => {
      if (btn.dataset.armed !== "true") {
        btn.dataset.armed = "true";
        btn.textContent = "Really delete?";
        return;
      }
      delete btn.dataset.armed;
      await fn();
    }),
  );
}

// ---- sign in and out ----

async function authenticate(ev) {
  const mode = ev.submitter?.value === "register" ? "register" : "login";
  const body = {
    username: $("auth-username").value.trim(),
    password: $("auth-password").value,
  };
  const display = $("auth-display-name").value.trim();
  if (mode === "register" && display) body.display_name = display;
  const res = await apiRequest("POST", `/api/v1/auth/${mode}`, { body });
  localStorage.setItem(TOKEN_KEY, res.token);
  localStorage.setItem(USER_KEY, JSON.stringify(res.user));
  $("auth-password").value = "";
  await enterApp(res.token, res.user);
}

function signOut(message) {
  state.client?.stop();
  state.client = null;
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(USER_KEY);
  Object.assign(state, { token: null, user: null, postId: null, unread: 0, unseen: 0, groups: [] });
  state.ids.clear();
  $("app").hidden = true;
  $("preferences").hidden = true;
  $("session").hidden = true;
  $("auth").hidden = false;
  $("posts").replaceChildren();
  $("notification-list").replaceChildren();
  if (message) showError(new DiscussAPIError(401, "unauthenticated", message));
}

async function enterApp(token, user) {
  state.token = token;
  state.user = user;
  $("auth").hidden = true;
  $("app").hidden = false;
  $("session").hidden = false;
  // The prefix is dropped on narrow screens (style.css), so that the bar
  // keeps to one line.
  $("whoami").replaceChildren(el("span", { className: "whoami-prefix", text: "Signed in as " }), nameOf(user));
  $("whoami").dataset.userId = user.id;

  // Load the notifications over REST first and let the socket resume after
  // the newest of them: nothing is shown twice, and nothing committed in
  // between is missed, because the socket replays everything after `since`.
  await Promise.all([loadPosts(), loadNotifications()]);
  startLive();
  await route();
}

function startLive() {
  const client = new DiscussClient({
    token: state.token,
    onStatus: showLiveStatus,
    onFrame: (frame) => {
      debug.frames.push({
        type: frame.type,
        id: frame.notification?.id,
        replayed: frame.replayed,
        unread_count: frame.unread_count,
        post_id: frame.post_id,
        comment_id: frame.comment?.id ?? frame.comment_id,
      });
    },
    onUnreadCount: setCounts,
    onNotification: (n) => {
      state.ids.add(n.id);
      // Groups are the server's to form: list them again.
      run(null, reloadNotifications)();
      // The open post hears of its comments through its live thread; on
      // the one-way event stream, a notification about it reloads it.
      if (n.post_id === state.postId && !state.client?.followsPosts) run(null, refreshOpenPost)();
    },
    onComment: (postId, c, { created }) => {
      if (postId === state.postId) showComment(c, created);
    },
    onCommentDeleted: (postId, id) => {
      if (postId === state.postId) removeComment(id);
    },
    onLikeCount: (postId, commentId, likeCount) => {
      if (postId !== state.postId) return;
      // The count moves; whether this user likes it stays as it was.
      if (commentId === null) {
        renderPost({ ...state.post, like_count: likeCount });
        return;
      }
      const btn = commentNode(commentId)?.querySelector(':scope > .comment-actions [data-testid="comment-like"]');
      if (btn) likeLabel(btn, { like_count: likeCount, liked: btn.dataset.liked === "true" });
    },
    onPostUpdated: (post) => {
      // The frame's viewer fields are a stranger's: keep ours.
      if (post.id !== state.postId) return;
      const { liked, muted, subscription } = state.post;
      renderPost({ ...post, liked, muted, subscription });
    },
    onPostDeleted: (postId) => {
      if (postId !== state.postId) return;
      $("post").hidden = true;
      $("post-empty").hidden = false;
      $("posts").querySelector(`li[data-post-id="${postId}"]`)?.remove();
      showError(new DiscussAPIError(404, "not_found", "This post was deleted."));
    },
    onPostResync: (postId) => {
      if (postId === state.postId) run(null, refreshOpenPost)();
    },
    onBroadcast: ({ message }) => {
      $("broadcast").textContent = `Announcement: ${message}`;
      $("broadcast").hidden = false;
    },
    onResync: () => run(null, resync)(),
    onAuthError: () => signOut("Your session has expired. Sign in again."),
  });
  client.remember(state.ids);
  state.client = client;
  client.connect();
}

const statusText = {
  idle: "offline",
  connecting: "connecting…",
  open: "live",
  waiting: "reconnecting…",
  offline: "offline",
  replaced: "paused: open in another tab",
  stopped: "stopped",
};

function showLiveStatus(status, detail) {
  const node = $("live-status");
  node.dataset.state = status;
  node.textContent = status === "waiting" ? `reconnecting in ${Math.ceil(detail.delay / 1000)} s` : statusText[status];
  if (status === "open") {
    // The fallback for networks that block WebSockets (see discuss-client.js).
    node.dataset.transport = detail.transport;
    if (detail.transport === "eventsource") node.textContent = "live (event stream)";
  }
  // The user may resume a connection that a newer tab replaced or that was
  // taken offline, or skip the rest of a backoff.
  $("reconnect").hidden = !["replaced", "offline", "waiting"].includes(status);
}

// ---- posts ----

async function loadPosts(more = false) {
  const q = new URLSearchParams({ sort: state.sort, limit: "20" });
  if (state.authorId !== null) q.set("author_id", String(state.authorId));
  if (more && state.postsCursor) q.set("cursor", state.postsCursor);
  const page = await api("GET", `/api/v1/posts?${q}`);
  const list = $("posts");
  if (!more) list.replaceChildren();
  for (const p of page.items) list.append(postItem(p));
  if (!more && page.items.length === 0) {
    list.append(el("li", { className: "muted", text: state.authorId === null ? "No posts yet: write the first." : "No posts by this user." }));
  }
  $("posts-filter").hidden = state.authorId === null;
  if (state.authorId !== null && !more) {
    const author = page.items[0]?.author;
    $("posts-filter-name").textContent = author ? nameOf(author) : `user ${state.authorId}`;
  }
  state.postsCursor = page.next_cursor;
  $("posts-more").hidden = !page.next_cursor;
  markOpenPost();
}

function postItem(p) {
  return el(
    "li",
    { dataPostId: p.id, dataTestid: "post-item" },
    el("a", { href: `#/posts/${p.id}`, text: p.title, dataTestid: "post-link" }),
    el("span", {
      className: "meta",
      text: ` by ${nameOf(p.author)} · ${count(p.comment_count, "comment")} · ${count(p.like_count, "like")}`,
    }),
  );
}

function markOpenPost() {
  for (const li of $("posts").children) {
    li.classList.toggle("current", Number(li.dataset.postId) === state.postId);
  }
}

async function createPost() {
  const post = await api("POST", "/api/v1/posts", {
    title: $("post-title").value,
    body: $("post-body").value,
    spoiler: $("post-spoiler").checked,
  });
  $("new-post-form").reset();
  $("new-post").open = false;
  await loadPosts();
  location.hash = `#/posts/${post.id}`;
}

// ---- one post and its comments ----

async function route() {
  // #/users/ID lists that user's posts (a mention links there); #/ lists
  // everyone's; opening a post keeps the list as it is.
  const user = location.hash.match(/^#\/users\/(\d+)$/);
  const authorId = user ? Number(user[1]) : ["", "#", "#/"].includes(location.hash) ? null : state.authorId;
  if (authorId !== state.authorId) {
    state.authorId = authorId;
    await loadPosts();
  }
  const m = location.hash.match(/^#\/posts\/(\d+)$/);
  if (!m) {
    if (state.postId !== null) state.client?.unfollowPost(state.postId);
    state.postId = null;
    $("post").hidden = true;
    $("post-empty").hidden = false;
    markOpenPost();
    return;
  }
  await openPost(Number(m[1]));
}

async function openPost(id) {
  // Another post starts with its threads collapsed, unless a notification
  // just chose the thread to show (openNotification).
  if (id !== state.postId && state.highlight === null) state.expanded.clear();
  if (id !== state.postId) {
    state.editing = null;
    closePostEditor();
    if (state.postId !== null) state.client?.unfollowPost(state.postId);
  }
  state.postId = id;
  markOpenPost();
  try {
    await refreshOpenPost();
  } catch (err) {
    $("post").hidden = true;
    $("post-empty").hidden = false;
    throw err;
  }
}

// coalesced returns fn made shareable: calls made while it runs (several
// live notifications at once) share the run, and make it run once more,
// since the running one may have read the database before their change.
function coalesced(fn) {
  let running = null;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await fn();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  };
}

// refreshOpenPost reloads the open post and its first page of comments,
// then follows it live from the largest comment id shown.
const refreshOpenPost = coalesced(loadOpenPost);

async function loadOpenPost() {
  const id = state.postId;
  if (id === null) return;
  const [post, comments] = await Promise.all([
    api("GET", `/api/v1/posts/${id}`),
    api("GET", `/api/v1/posts/${id}/comments?sort=old&limit=50`),
  ]);
  // The list holds the first 3 replies of each thread; threads the user
  // expanded, or replied in, are shown whole.
  const items = await Promise.all(
    comments.items.map(async (c) => {
      if (state.expanded.has(c.id) && c.reply_count > (c.replies?.length ?? 0)) c.replies = await fetchAllReplies(c.id);
      return c;
    }),
  );
  if (id !== state.postId) return; // the user moved on meanwhile
  renderPost(post);
  // Keep the post's counters in the list in step.
  $("posts").querySelector(`li[data-post-id="${post.id}"]`)?.replaceWith(postItem(post));
  markOpenPost();
  // Live updates re-render the thread; keep a reply being written.
  const draft = saveReplyDraft();
  $("comments").replaceChildren(...items.map(commentItem));
  restoreReplyDraft(draft);
  restoreCommentEditor();
  state.commentsCursor = comments.next_cursor;
  $("comments-more").hidden = !comments.next_cursor;
  // Everything after the newest comment shown comes over the socket, also
  // what was added while the page loaded (the server replays it).
  state.client?.followPost(id, maxShownCommentId());
  if (state.highlight !== null) {
    document.querySelector(`#comments li[data-comment-id="${state.highlight}"]`)?.scrollIntoView({ block: "center" });
    state.highlight = null;
  }
}

function renderPost(post) {
  state.post = post;
  $("post").hidden = false;
  $("post").dataset.postId = post.id;
  $("post-empty").hidden = true;
  $("post-title-view").textContent = post.title;
  $("post-meta").replaceChildren(
    `by ${nameOf(post.author)} · `,
    when(post.created_at),
    ` · ${count(post.comment_count, "comment")} · ${count(post.like_count, "like")}`,
  );
  if (post.hidden) $("post-meta").append(" · hidden pending review");
  showBody($("post-body-view"), `post:${post.id}`, post, () => setBodyHTML($("post-body-view"), post.body_html));
  $("post-level").value = post.subscription;
  likeLabel($("post-like"), post);
  $("post-mute").textContent = post.muted ? "Unmute" : "Mute";
  $("post-mute").setAttribute("aria-pressed", String(post.muted));
  const mine = post.author?.id === state.user?.id;
  $("post-edit").hidden = !(mine || mayModerate());
  $("post-delete").hidden = !(mine || mayModerate());
}

// ---- the open post, live ----

function commentNode(id) {
  return $("comments").querySelector(`li[data-comment-id="${id}"]`);
}

// maxShownCommentId is the largest comment or reply id on the page (0 for
// none): the live thread resumes after it.
function maxShownCommentId() {
  let max = 0;
  for (const li of $("comments").querySelectorAll("li[data-comment-id]")) max = Math.max(max, Number(li.dataset.commentId));
  return max;
}

// showComment puts a comment that arrived live (or that this page just
// wrote) in its place: a new top-level comment at the end, a reply at the
// end of its thread, an edit over the old text.
function showComment(c, created) {
  const shown = commentNode(c.id);
  if (shown) {
    if (!created) fillComment(shown, c);
    return;
  }
  if (!created) return; // an edit of a comment this page does not show
  if (c.root_id === null) {
    $("comments").append(commentItem({ ...c, replies: [] }));
  } else {
    const root = commentNode(c.root_id);
    if (!root) return; // its thread is on a page not loaded yet
    root.querySelector(".replies").append(replyItem(c, root.querySelector(".reply-form")));
  }
  renderPost({ ...state.post, comment_count: state.post.comment_count + 1 });
}

// removeComment takes a deleted comment off the page; a top-level one with
// replies stays as a placeholder, as REST lists it.
function removeComment(id) {
  const li = commentNode(id);
  if (!li) return;
  const root = li.parentElement.closest("li.comment");
  if (li.classList.contains("comment") && li.querySelector(".replies").children.length > 0) {
    fillComment(li, { id, deleted: true, author: null, created_at: li.querySelector("time")?.dateTime });
    li.querySelector(":scope > .comment-actions").replaceChildren();
  } else {
    li.remove();
    // A placeholder whose last reply went is gone too.
    if (root?.dataset.deleted === "true" && root.querySelector(".replies").children.length === 0) root.remove();
  }
  renderPost({ ...state.post, comment_count: Math.max(state.post.comment_count - 1, 0) });
}

// likePost likes the open post, or unlikes it.
async function likePost() {
  const res = await api(state.post.liked ? "DELETE" : "PUT", `/api/v1/posts/${state.postId}/like`);
  renderPost({ ...state.post, ...res });
  $("posts").querySelector(`li[data-post-id="${state.postId}"]`)?.replaceWith(postItem(state.post));
  markOpenPost();
}

// mutePost mutes the open post (PUT /mute), or goes back to the default
// level (DELETE /mute).
async function mutePost() {
  await api(state.post.muted ? "DELETE" : "PUT", `/api/v1/posts/${state.postId}/mute`);
  const sub = await api("GET", `/api/v1/posts/${state.postId}/subscription`);
  renderPost({ ...state.post, subscription: sub.level, muted: sub.level === "muted" });
}

function openPostEditor() {
  $("post-edit-title").value = state.post.title;
  $("post-edit-body").value = state.post.body;
  $("post-edit-form").hidden = false;
  $("post-body-view").hidden = true;
  $("post-edit-body").focus();
}

function closePostEditor() {
  $("post-edit-form").hidden = true;
  $("post-body-view").hidden = false;
}

async function savePost() {
  const post = await api("PATCH", `/api/v1/posts/${state.postId}`, {
    title: $("post-edit-title").value,
    body: $("post-edit-body").value,
  });
  closePostEditor();
  renderPost(post);
  $("posts").querySelector(`li[data-post-id="${post.id}"]`)?.replaceWith(postItem(post));
  markOpenPost();
}

async function deletePost() {
  await api("DELETE", `/api/v1/posts/${state.postId}`);
  state.postId = null;
  state.post = null;
  location.hash = "#/";
  await loadPosts();
}

// showBody fills node with the body of a post or comment (key "post:1",
// "comment:2") by calling fill. A spoiler is blurred, and a blocked user's
// content folded, until the reader clicks it (a click on a link in it only
// reveals it); the choice holds across reloads of the thread.
function showBody(node, key, item, fill) {
  fill();
  node.classList.remove("spoiler", "collapsed");
  node.removeAttribute("title");
  node.onclick = null;
  if (state.revealed.has(key)) return;
  const cls = item.author_blocked ? "collapsed" : item.spoiler ? "spoiler" : null;
  if (!cls) return;
  node.classList.add(cls);
  node.title = item.author_blocked ? "From a user you blocked: click to show" : "Spoiler: click to reveal";
  node.onclick = (ev) => {
    ev.preventDefault();
    state.revealed.add(key);
    showBody(node, key, item, fill);
  };
}

// setLevel sets the user's notification level on the open post.
async function setLevel() {
  const sub = await api("PUT", `/api/v1/posts/${state.postId}/subscription`, { level: $("post-level").value });
  $("post-level").value = sub.level;
}

async function moreComments() {
  const q = new URLSearchParams({ sort: "old", limit: "50", cursor: state.commentsCursor });
  const page = await api("GET", `/api/v1/posts/${state.postId}/comments?${q}`);
  // A comment that arrived live may be on this page too.
  $("comments").append(...page.items.filter((c) => !commentNode(c.id)).map(commentItem));
  state.commentsCursor = page.next_cursor;
  $("comments-more").hidden = !page.next_cursor;
}

// commentItem renders a top-level comment with its replies listed under it.
function commentItem(c) {
  const li = $("comment-template").content.firstElementChild.cloneNode(true);
  fillComment(li, c);
  li.dataset.testid = "comment";
  const form = li.querySelector(".reply-form");
  const textarea = form.querySelector("textarea");
  textarea.id = `reply-body-${c.id}`;
  form.querySelector("label").htmlFor = textarea.id;
  form.dataset.testid = "reply-form";

  const replies = li.querySelector(".replies");
  replies.append(...(c.replies ?? []).map((r) => replyItem(r, form)));
  const more = li.querySelector(".more-replies");
  const hiddenCount = c.reply_count - (c.replies?.length ?? 0);
  if (hiddenCount > 0) {
    more.hidden = false;
    more.textContent = `Show ${hiddenCount} more ${hiddenCount === 1 ? "reply" : "replies"}`;
    more.addEventListener(
      "click",
      run(more, async () => {
        state.expanded.add(c.id);
        const all = await fetchAllReplies(c.id);
        replies.replaceChildren(...all.map((r) => replyItem(r, form)));
        more.hidden = true;
      }),
    );
  }

  li.querySelector(".comment-actions").replaceChildren(...commentActions(li, c, form));
  form.querySelector(".reply-cancel").addEventListener("click", () => {
    form.hidden = true;
  });
  form.addEventListener(
    "submit",
    run(form.querySelector(".reply-submit"), async () => {
      const reply = await api("POST", `/api/v1/posts/${state.postId}/comments`, {
        body: textarea.value,
        parent_id: Number(form.dataset.parentId),
        spoiler: form.querySelector(".reply-spoiler").checked,
      });
      form.reset();
      form.hidden = true;
      state.expanded.add(c.id);
      // Shown at once; its live copy is then skipped by id.
      showComment(reply, true);
    }),
  );
  return li;
}

function replyItem(r, form) {
  const li = el("li", { className: "reply", dataTestid: "reply-item" });
  li.append(el("p", { className: "meta" }), el("div", { className: "body markdown" }));
  fillComment(li, r);
  li.append(el("div", { className: "comment-actions" }, ...commentActions(li, r, form)));
  return li;
}

// commentActions returns the controls of comment c shown in li: reply
// (into the thread's form), like, and for those allowed, edit and delete.
// A placeholder of a deleted comment has none.
function commentActions(li, c, form) {
  if (c.deleted) return [];
  const mine = c.author?.id === state.user?.id;
  const reply = el("button", { type: "button", className: "link", text: "Reply", dataTestid: "reply" });
  reply.addEventListener("click", () => openReplyForm(form, c));
  const like = el("button", { type: "button", className: "link like", dataTestid: "comment-like" });
  likeLabel(like, c);
  like.addEventListener(
    "click",
    run(like, async () => {
      const res = await api(like.dataset.liked === "true" ? "DELETE" : "PUT", `/api/v1/comments/${c.id}/like`);
      likeLabel(like, res);
    }),
  );
  const controls = [reply, like];
  if (mine) {
    // Only the author edits a comment: moderators delete, they do not
    // put words in others' mouths.
    const edit = el("button", { type: "button", className: "link", text: "Edit", dataTestid: "comment-edit" });
    edit.addEventListener("click", () => openCommentEditor(li, c, c.body));
    controls.push(edit);
  }
  if (mine || mayModerate()) {
    const del = el("button", { type: "button", className: "link danger", dataTestid: "comment-delete" });
    confirmFirst(del, "Delete", async () => {
      await api("DELETE", `/api/v1/comments/${c.id}`);
      await refreshOpenPost();
    });
    controls.push(del);
  }
  return controls;
}

// openCommentEditor replaces the body of comment c, shown in li, with a
// form holding value. What is typed is kept in state.editing, so that a
// live re-render of the thread opens the editor again as it was.
function openCommentEditor(li, c, value) {
  const body = li.querySelector(":scope > .body");
  li.querySelector(":scope > .comment-edit")?.remove();
  const textarea = el("textarea", { name: "body", required: true, rows: 3, maxLength: 5000, id: `edit-body-${c.id}` });
  textarea.value = value;
  const save = el("button", { type: "submit", text: "Save", dataTestid: "comment-edit-save" });
  const cancel = el("button", { type: "button", className: "secondary", text: "Cancel" });
  const form = el(
    "form",
    { className: "comment-edit", dataTestid: "comment-edit-form" },
    el("label", { htmlFor: textarea.id, text: "Edit (Markdown)" }),
    textarea,
    el("div", { className: "actions" }, save, cancel),
  );
  state.editing = { id: c.id, value };
  textarea.addEventListener("input", () => {
    state.editing = { id: c.id, value: textarea.value };
  });
  const close = () => {
    state.editing = null;
    form.remove();
    body.hidden = false;
  };
  cancel.addEventListener("click", close);
  form.addEventListener(
    "submit",
    run(save, async () => {
      await api("PATCH", `/api/v1/comments/${c.id}`, { body: textarea.value });
      close();
      await refreshOpenPost();
    }),
  );
  body.hidden = true;
  body.after(form);
  textarea.focus();
}

function fillComment(li, c) {
  li.dataset.commentId = c.id;
  li.dataset.deleted = String(!!c.deleted);
  li.classList.toggle("highlight", c.id === state.highlight);
  const meta = li.querySelector(".meta");
  meta.replaceChildren(el("strong", { text: nameOf(c.author) }));
  if (c.reply_to) meta.append(` → ${nameOf(c.reply_to)}`);
  meta.append(" · ", when(c.created_at));
  if (c.edited_at) meta.append(" · edited");
  if (c.hidden) meta.append(" · hidden pending review");
  const body = li.querySelector(".body");
  showBody(body, `comment:${c.id}`, c, () => {
    if (c.deleted) body.textContent = "[deleted]";
    else setBodyHTML(body, c.body_html);
  });
}

// openReplyForm opens the thread's reply form, aimed at comment c, which
// is the top-level comment or one of its replies.
function openReplyForm(form, c) {
  form.dataset.parentId = c.id;
  form.querySelector("label").textContent = `Reply to ${nameOf(c.author)}`;
  form.hidden = false;
  form.querySelector("textarea").focus();
}

// saveReplyDraft returns the open reply form's state, or null.
function saveReplyDraft() {
  const form = $("comments").querySelector(".reply-form:not([hidden])");
  if (!form) return null;
  const textarea = form.querySelector("textarea");
  return {
    rootId: form.closest("li.comment").dataset.commentId,
    parentId: form.dataset.parentId,
    label: form.querySelector("label").textContent,
    value: textarea.value,
    focused: document.activeElement === textarea,
    selection: [textarea.selectionStart, textarea.selectionEnd],
  };
}

function restoreReplyDraft(draft) {
  if (!draft) return;
  const form = $("comments").querySelector(`li.comment[data-comment-id="${draft.rootId}"] .reply-form`);
  if (!form) return; // the thread is gone (deleted meanwhile)
  const textarea = form.querySelector("textarea");
  form.dataset.parentId = draft.parentId;
  form.querySelector("label").textContent = draft.label;
  form.hidden = false;
  textarea.value = draft.value;
  if (draft.focused) {
    textarea.focus();
    textarea.setSelectionRange(...draft.selection);
  }
}

// restoreCommentEditor opens again, after a re-render, the editor of the
// comment being edited, with what was typed.
function restoreCommentEditor() {
  if (!state.editing) return;
  const li = $("comments").querySelector(`li[data-comment-id="${state.editing.id}"]`);
  if (!li) {
    state.editing = null; // deleted meanwhile
    return;
  }
  openCommentEditor(li, { id: state.editing.id }, state.editing.value);
}

// fetchAllReplies reads every reply of a thread, oldest first.
async function fetchAllReplies(rootId) {
  const items = [];
  let cursor = null;
  do {
    const q = new URLSearchParams({ limit: "100" });
    if (cursor) q.set("cursor", cursor);
    const page = await api("GET", `/api/v1/comments/${rootId}/replies?${q}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

async function addComment() {
  const c = await api("POST", `/api/v1/posts/${state.postId}/comments`, {
    body: $("comment-body").value,
    spoiler: $("comment-spoiler").checked,
  });
  $("comment-form").reset();
  showComment(c, true);
}

// ---- notifications ----

// setCounts shows the unseen count on the bell's badge (what is new since
// the bell was last opened) and the unread count in the list's head.
function setCounts(unread, unseen) {
  state.countsVersion++;
  if (typeof unread === "number") {
    state.unread = unread;
    const u = $("unread-count");
    u.textContent = `${unread} unread`;
    u.dataset.count = String(unread);
  }
  if (typeof unseen === "number") {
    state.unseen = unseen;
    const badge = $("unseen-count");
    badge.textContent = String(unseen);
    badge.dataset.count = String(unseen);
    badge.classList.toggle("zero", unseen === 0);
  }
}

async function loadNotifications(more = false) {
  const q = new URLSearchParams({ limit: "20" });
  if (more && state.groupsCursor) q.set("cursor", state.groupsCursor);
  const version = state.countsVersion;
  const page = await api("GET", `/api/v1/notifications/grouped?${q}`);
  if (!more) state.groups = [];
  state.groups.push(...page.items);
  for (const g of page.items) for (const id of g.notification_ids) state.ids.add(id);
  state.groupsCursor = page.next_cursor;
  $("notifications-more").hidden = !page.next_cursor;
  // The page's counts were taken when the server answered, which may be
  // before a seen or read mark, or a frame, that reached this page while
  // the request was out: the bell opened during a reload would show its
  // badge again. Counts that changed meanwhile are newer; keep them.
  if (state.countsVersion === version) setCounts(page.unread_count, page.unseen_count);
  state.client?.remember(state.ids);
  renderNotifications();
}

// reloadNotifications lists the groups again from the first page.
const reloadNotifications = coalesced(() => loadNotifications());

// resync: the socket missed more than the server replays. Start over from REST.
async function resync() {
  await loadNotifications();
  if (state.postId !== null) await refreshOpenPost();
}

// What a group's actors did, by type; a like says what was liked.
function verb(g) {
  switch (g.type) {
    case "post_comment":
      return "commented on your post";
    case "thread_comment":
      return "commented on a post you follow";
    case "comment_reply":
      return "replied to your comment";
    case "like":
      return g.comment_id ? "liked your comment" : "liked your post";
    case "mention":
      return "mentioned you";
    case "system":
      return "sent you a message";
  }
  return g.type;
}

// who names a group's actors: "ana", "ana and bob", "ana and 3 others".
function who(g) {
  if (g.type === "system") return "Administrator";
  const first = nameOf(g.actors[0] ?? g.latest.actor);
  if (g.actors.length === 2 && g.count === 2) return `${first} and ${nameOf(g.actors[1])}`;
  if (g.actors.length > 1) return `${first} and ${g.count - 1} others`;
  return g.count > 1 ? `${first} (${g.count} times)` : first;
}

function renderNotifications() {
  $("notification-list").replaceChildren(...state.groups.map(groupItem));
  $("notifications-empty").hidden = state.groups.length > 0;
}

function groupItem(g) {
  const n = g.latest;
  const open = el(
    "button",
    { type: "button", className: "open-notification", dataTestid: "open-notification" },
    el("strong", { text: who(g) }),
    ` ${verb(g)}`,
    n.excerpt ? el("span", { className: "excerpt", text: `“${n.excerpt}”` }) : null,
    when(n.created_at),
  );
  open.addEventListener("click", run(open, () => openGroup(g)));
  const li = el(
    "li",
    {
      className: g.unread > 0 ? "unread" : "read",
      dataGroupKey: g.key,
      dataCount: String(g.count),
      dataUnread: String(g.unread),
      dataRead: String(g.unread === 0),
      dataCommentId: g.comment_id ?? n.comment_id ?? "",
      dataNotificationIds: g.notification_ids.join(","),
      dataTestid: "notification",
    },
    open,
  );
  if (g.unread > 0) {
    const mark = el("button", { type: "button", className: "secondary mark-read", text: "Mark read", dataTestid: "mark-read" });
    mark.setAttribute("aria-label", `Mark read: ${who(g)} ${verb(g)}`);
    mark.addEventListener("click", run(mark, () => markGroupRead(g)));
    li.append(mark);
  }
  return li;
}

// markGroupRead marks a group's notifications read: over the socket when it
// is open (the server answers with an unread_count frame), else over REST.
async function markGroupRead(g) {
  if (g.unread === 0) return;
  const sel = { ids: g.notification_ids };
  if (!state.client?.connected || !state.client.markRead(sel)) {
    const res = await api("POST", "/api/v1/notifications/read", sel);
    setCounts(res.unread_count, res.unseen_count);
  }
  g.unread = 0;
  renderNotifications();
}

// markAllRead marks read what this page has shown, up to the newest id:
// anything newer that is still on its way stays unread.
async function markAllRead() {
  if (state.ids.size === 0) return;
  const upTo = Math.max(...state.ids);
  const res = await api("POST", "/api/v1/notifications/read", { up_to_id: upTo });
  setCounts(res.unread_count, res.unseen_count);
  await reloadNotifications();
}

// markSeen clears the badge when the bell is opened: the seen mark moves up
// to the newest notification shown, which reads nothing.
async function markSeen() {
  if (state.ids.size === 0 || state.unseen === 0) return;
  const res = await api("POST", "/api/v1/notifications/seen", { up_to_id: Math.max(...state.ids) });
  setCounts(undefined, res.unseen_count);
}

async function openGroup(g) {
  const n = g.latest;
  await markGroupRead(g);
  // Show the thread of the group's comment (the one replied to, or liked),
  // which may be past the first 3 replies. A comment deleted since answers
  // 404: just open the post.
  const commentID = n.comment_id ?? g.comment_id;
  if (commentID) {
    try {
      const c = await api("GET", `/api/v1/comments/${commentID}`);
      if (n.post_id !== state.postId) state.expanded.clear();
      state.expanded.add(c.root_id ?? c.id);
      state.highlight = c.id;
    } catch (err) {
      if (!(err instanceof DiscussAPIError && err.status === 404)) throw err;
    }
  }
  if (n.post_id) {
    toggleNotifications(false);
    if (location.hash === `#/posts/${n.post_id}`) await refreshOpenPost();
    else location.hash = `#/posts/${n.post_id}`;
  }
}

function toggleNotifications(show) {
  const panel = $("notifications");
  const open = show ?? panel.hidden;
  panel.hidden = !open;
  $("bell").setAttribute("aria-expanded", String(open));
  if (open) run(null, markSeen)();
}

// ---- offline delivery: preferences, email verification, Web Push ----

const typeNames = {
  post_comment: "comments on my posts",
  comment_reply: "replies to my comments",
  mention: "mentions",
  thread_comment: "comments on posts I follow",
  like: "likes",
  system: "messages from the administrators",
};

async function loadPreferences() {
  const p = await api("GET", "/api/v1/me/preferences");
  $("prefs-email").value = p.email;
  $("prefs-email").disabled = !p.email_available;
  $("prefs-delivery").value = p.email_delivery;
  $("prefs-delivery").disabled = !p.email_available;
  $("prefs-push").checked = p.push_enabled && (await pushSubscription()) !== null;
  $("prefs-push").disabled = !p.push_available || !("serviceWorker" in navigator) || !("PushManager" in window);
  let status = "";
  if (!p.email_available) status = "This server sends no email.";
  else if (p.email && !p.email_verified) status = `Follow the link sent to ${p.email} to confirm it.`;
  else if (p.email) status = `Mail goes to ${p.email}.`;
  $("prefs-verify-status").textContent = status;
  const box = $("prefs-types");
  box.replaceChildren(el("legend", {}, "Mail and push"));
  for (const [type, on] of Object.entries(p.types)) {
    const input = el("input", { type: "checkbox", name: type });
    input.checked = on;
    box.append(el("label", {}, input, ` ${typeNames[type] || type}`));
  }
}

async function savePreferences() {
  const types = {};
  for (const input of $("prefs-types").querySelectorAll("input")) types[input.name] = input.checked;
  const patch = { push_enabled: $("prefs-push").checked, types };
  if (!$("prefs-email").disabled) {
    patch.email = $("prefs-email").value.trim();
    patch.email_delivery = $("prefs-delivery").value;
  }
  await setPush($("prefs-push").checked);
  await api("PATCH", "/api/v1/me/preferences", patch);
  await loadPreferences();
}

// pushSubscription returns this browser's push subscription, or null.
async function pushSubscription() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return null;
  const reg = await navigator.serviceWorker.getRegistration("/");
  return reg ? reg.pushManager.getSubscription() : null;
}

// setPush subscribes this browser (its service worker shows the messages)
// or unsubscribes it, and tells the server.
async function setPush(on) {
  const current = await pushSubscription();
  if (!on) {
    if (current) {
      await api("DELETE", "/api/v1/push/subscriptions", { endpoint: current.endpoint }).catch(() => {});
      await current.unsubscribe();
    }
    return;
  }
  if (current) return;
  const { public_key: key } = await api("GET", "/api/v1/push/key");
  const reg = await navigator.serviceWorker.register("/sw.js");
  await navigator.serviceWorker.ready;
  const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64url(key) });
  await api("POST", "/api/v1/push/subscriptions", sub.toJSON());
}

function base64url(s) {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

function togglePreferences() {
  const open = $("preferences").hidden;
  $("preferences").hidden = !open;
  $("prefs-toggle").setAttribute("aria-expanded", String(open));
  if (open) run($("prefs-toggle"), loadPreferences)();
}

// verifyEmailLink confirms the address of the link a verification message
// carries (/verify-email?token=...), which needs no sign-in, then goes
// back to the page.
async function verifyEmailLink() {
  if (location.pathname !== "/verify-email") return;
  const token = new URLSearchParams(location.search).get("token") || "";
  history.replaceState(null, "", "/");
  try {
    const p = await api("POST", "/api/v1/email/verify", { token });
    $("broadcast").textContent = `Confirmed: mail goes to ${p.email}.`;
    $("broadcast").hidden = false;
  } catch (err) {
    showError(err);
  }
}

// ---- wiring ----

function wire() {
  $("auth-form").addEventListener("submit", (ev) => run(ev.submitter, () => authenticate(ev))(ev));
  $("sign-out").addEventListener("click", () => signOut());
  $("error-close").addEventListener("click", clearError);
  $("sort").addEventListener(
    "change",
    run($("sort"), () => {
      state.sort = $("sort").value;
      return loadPosts();
    }),
  );
  $("posts-more").addEventListener("click", run($("posts-more"), () => loadPosts(true)));
  $("new-post-form").addEventListener("submit", run($("post-submit"), createPost));
  $("comment-form").addEventListener("submit", run($("comment-submit"), addComment));
  $("post-level").addEventListener("change", run($("post-level"), setLevel));
  $("post-like").addEventListener("click", run($("post-like"), likePost));
  $("post-mute").addEventListener("click", run($("post-mute"), mutePost));
  $("post-edit").addEventListener("click", openPostEditor);
  $("post-edit-cancel").addEventListener("click", closePostEditor);
  $("post-edit-form").addEventListener("submit", run($("post-edit-save"), savePost));
  confirmFirst($("post-delete"), "Delete", deletePost);
  $("comments-more").addEventListener("click", run($("comments-more"), moreComments));
  $("bell").addEventListener("click", () => toggleNotifications());
  $("mark-all-read").addEventListener("click", run($("mark-all-read"), markAllRead));
  $("notifications-more").addEventListener("click", run($("notifications-more"), () => loadNotifications(true)));
  $("reconnect").addEventListener("click", () => state.client?.connect());
  $("prefs-toggle").addEventListener("click", togglePreferences);
  $("prefs-form").addEventListener("submit", run($("prefs-save"), savePreferences));
  $("broadcast").addEventListener("click", () => {
    $("broadcast").hidden = true;
  });
  window.addEventListener("hashchange", () => {
    if (state.token) run(null, route)();
  });
}

async function start() {
  wire();
  await verifyEmailLink();
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) {
    $("auth").hidden = false;
    return;
  }
  // Check the kept token before trusting it; a 401 signs out.
  state.token = token;
  try {
    const me = await api("GET", "/api/v1/me");
    await enterApp(token, me);
  } catch (err) {
    if (!(err instanceof DiscussAPIError && err.status === 401)) $("auth").hidden = false;
    showError(err);
  }
}

start();
