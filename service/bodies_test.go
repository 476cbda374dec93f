package service_test

import (
	"strconv"
	"testing"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
	"github.com/quizsite/discuss/service/dbtest"
	"github.com/quizsite/discuss/service/markdown/markdowntest"
)

// mentionLink is how body_html links a mention of u.
func mentionLink(u *model.User) string {
	return `<a href="/#/users/` + strconv.FormatInt(u.ID, 10) + `" class="mention" rel="nofollow ugc noopener">@` + u.Username + `</a>`
}

// TestBodyHTML: posts and comments are rendered when written and again
// when edited, mentions linked only for users who exist, and every read
// returns the stored HTML.
func TestBodyHTML(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.as(t, "alice"), f.as(t, "bob")
	bobUser := f.users["bob"]
	body := "hi @bob and @nobody\n\n```go\nfunc f() {}\n```\n\n| a |\n|---|\n| ~~b~~ |\n\n<script>alert(1)</script>"
	p := f.post(t, alice, body)
	want := []string{mentionLink(bobUser), "@nobody", `<span class="kd">func</span>`, "<table>", "<del>b</del>", "&lt;script&gt;"}
	markdowntest.Contains(t, "created post body_html", p.BodyHTML, want, "<script>", `@nobody</a>`)
	if p.Body != body {
		t.Errorf("body %q, want it as written", p.Body)
	}
	got, err := f.posts.Get(bob, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.BodyHTML != p.BodyHTML {
		t.Errorf("GET body_html %q, want the created %q", got.BodyHTML, p.BodyHTML)
	}
	page, err := f.posts.List(bob, service.PostQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].BodyHTML != p.BodyHTML {
		t.Errorf("listed post body_html differs: %+v", page.Items)
	}

	// Editing the title alone keeps the HTML; editing the body renders it.
	edited, err := f.posts.Update(alice, p.ID, service.PostPatch{Title: ptr("new title")})
	if err != nil {
		t.Fatal(err)
	}
	if edited.BodyHTML != p.BodyHTML {
		t.Errorf("title edit changed body_html to %q", edited.BodyHTML)
	}
	edited, err = f.posts.Update(alice, p.ID, service.PostPatch{Body: ptr("now **bold** @Bob")})
	if err != nil {
		t.Fatal(err)
	}
	markdowntest.Contains(t, "edited post body_html", edited.BodyHTML, []string{"<strong>bold</strong>", `class="mention"`, "@Bob</a>"}, "func")

	c := f.comment(t, bob, p.ID, nil, "see `code` and @alice")
	markdowntest.Contains(t, "created comment body_html", c.BodyHTML, []string{"<code>code</code>", mentionLink(f.users["alice"])})
	r := f.comment(t, alice, p.ID, c, "a *reply*")
	markdowntest.Contains(t, "created reply body_html", r.BodyHTML, []string{"<em>reply</em>"})

	c2, err := f.comments.Update(bob, c.ID, service.CommentPatch{Body: ptr("changed ~~text~~")})
	if err != nil {
		t.Fatal(err)
	}
	markdowntest.Contains(t, "edited comment body_html", c2.BodyHTML, []string{"<del>text</del>"}, "code")
	list, err := f.comments.List(alice, p.ID, service.CommentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].BodyHTML != c2.BodyHTML || len(list.Items[0].Replies) != 1 || list.Items[0].Replies[0].BodyHTML != r.BodyHTML {
		t.Fatalf("listed comments do not carry the stored body_html: %+v", list.Items)
	}

	// A deleted comment with replies is a placeholder: no HTML either.
	if err := f.comments.Delete(bob, c.ID); err != nil {
		t.Fatal(err)
	}
	placeholder, err := f.comments.Get(alice, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !placeholder.Deleted || placeholder.Body != "" || placeholder.BodyHTML != "" {
		t.Errorf("placeholder body %q body_html %q", placeholder.Body, placeholder.BodyHTML)
	}
}

// TestRenderStoredBodies: rows written before migration 00007 are served
// with an empty body_html until RenderStoredBodies renders them, which it
// does once.
func TestRenderStoredBodies(t *testing.T) {
	ctx := t.Context()
	db := dbtest.OpenEmpty(t)
	at := "2026-01-02 03:04:05"
	m := db.MigrateTo(t, 5,
		"INSERT INTO users (id, username, display_name, role, created_at) VALUES (1, 'alice', '', 'user', '"+at+"'), (2, 'bob', '', 'user', '"+at+"')",
		"INSERT INTO posts (id, author_id, title, body, created_at, updated_at, last_activity_at) VALUES (1, 1, 't', '**old** @bob', '"+at+"', '"+at+"', '"+at+"')",
		"INSERT INTO comments (id, post_id, author_id, body, created_at) VALUES (1, 1, 2, '~~c~~ @nobody', '"+at+"')",
	)
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	f := fixtureOn(t, db)
	var bob model.User
	if err := db.Take(&bob, 2).Error; err != nil {
		t.Fatal(err)
	}
	reader := model.WithUser(ctx, &bob)
	read := func() (*model.Post, *model.Comment) {
		t.Helper()
		p, err := f.posts.Get(reader, 1)
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.comments.Get(reader, 1)
		if err != nil {
			t.Fatal(err)
		}
		return p, c
	}
	if p, c := read(); p.BodyHTML != "" || c.BodyHTML != "" {
		t.Fatalf("before rendering: post %q comment %q, want empty", p.BodyHTML, c.BodyHTML)
	}

	n, err := service.RenderStoredBodies(ctx, db.DB)
	if err != nil || n != 2 {
		t.Fatalf("RenderStoredBodies = %d, %v; want 2 rows", n, err)
	}
	p, c := read()
	markdowntest.Contains(t, "stored post body_html", p.BodyHTML, []string{"<strong>old</strong>", mentionLink(&bob)})
	markdowntest.Contains(t, "stored comment body_html", c.BodyHTML, []string{"<del>c</del>", "@nobody"}, "<a")

	if n, err := service.RenderStoredBodies(ctx, db.DB); err != nil || n != 0 {
		t.Fatalf("second RenderStoredBodies = %d, %v; want 0 rows", n, err)
	}
}
