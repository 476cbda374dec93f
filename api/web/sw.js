// The demo page's service worker: it shows each Web Push message, the JSON
// of a notification frame (as /ws sends it), as a system notification, and
// opens the post when it is clicked. Served from /sw.js so that its scope
// is the whole page.

const phrases = {
  post_comment: "commented on your post",
  comment_reply: "replied to your comment",
  mention: "mentioned you",
  thread_comment: "commented on a post you follow",
  like: "liked what you wrote",
  system: "sent a message",
};

self.addEventListener("push", (event) => {
  let frame = {};
  try {
    frame = event.data ? event.data.json() : {};
  } catch {
    // Not a frame: show what can be shown.
  }
  const n = frame.notification || {};
  const who = n.actor ? n.actor.display_name || n.actor.username : "discuss";
  const title = `${who} ${phrases[n.type] || "notified you"}`;
  event.waitUntil(
    self.registration.showNotification(title, {
      body: n.excerpt || "",
      tag: n.id ? `discuss-${n.id}` : undefined,
      data: { url: n.post_id ? `/#/posts/${n.post_id}` : "/" },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.url));
});
