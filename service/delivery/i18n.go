package delivery

import (
	"fmt"
	"time"

	"github.com/quizsite/discuss/model"
)

// The words of the mail, in English and Simplified Chinese (the quiz
// site's first users). A locale without its own table is written in
// English; a key missing from a table falls back to English too, so a new
// text shows in English until it is translated rather than blank.
var phrases = map[string]map[string]string{
	model.LocaleEnglish: {
		"subject.verify":   "Confirm your email address for Discuss",
		"subject.instant":  "%d new notifications on Discuss",
		"subject.instant1": "A new notification on Discuss",
		"subject.daily":    "Your daily Discuss digest: %d unread",
		"greeting":         "Hi %s,",
		"verify.intro":     "Confirm this address to be told of replies and mentions on Discuss while you are away:",
		"verify.button":    "Confirm this address",
		"verify.ignore":    "If you did not ask for this, ignore this message; nothing will be sent to you.",
		"instant.intro":    "This happened while you were away:",
		"daily.intro":      "What is waiting for you today:",
		"open":             "Open",
		"settings":         "Change what you are sent",
		"unsubscribe":      "Unsubscribe from these emails",
		"post_comment":     "%s commented on your post",
		"comment_reply":    "%s replied to your comment",
		"mention":          "%s mentioned you",
		"thread_comment":   "%s commented on a post you follow",
		"like":             "%s liked what you wrote",
		"system":           "A message from the administrators",
		"someone":          "Someone",
	},
	model.LocaleZhCN: {
		"subject.verify":   "请确认你在讨论区的邮箱地址",
		"subject.instant":  "讨论区：你有 %d 条新通知",
		"subject.instant1": "讨论区：你有一条新通知",
		"subject.daily":    "讨论区每日摘要：%d 条未读通知",
		"greeting":         "%s，你好：",
		"verify.intro":     "确认此邮箱地址后，你不在线时收到的回复和提及会通过邮件告诉你：",
		"verify.button":    "确认邮箱地址",
		"verify.ignore":    "如果这不是你本人的操作，请忽略此邮件，我们不会再给你发送任何邮件。",
		"instant.intro":    "你离开期间有这些新动态：",
		"daily.intro":      "今天等你查看的通知：",
		"open":             "查看",
		"settings":         "更改邮件设置",
		"unsubscribe":      "退订此类邮件",
		"post_comment":     "%s 评论了你的帖子",
		"comment_reply":    "%s 回复了你的评论",
		"mention":          "%s 提到了你",
		"thread_comment":   "%s 在你关注的帖子中发表了评论",
		"like":             "%s 赞了你的内容",
		"system":           "管理员消息",
		"someone":          "有人",
	},
}

// say returns the text of key in locale, formatted with args.
func say(locale, key string, args ...any) string {
	if locale == "" {
		locale = model.LocaleEnglish
	}
	text, ok := phrases[locale][key]
	if !ok {
		text = phrases[model.LocaleEnglish][key]
	}
	if len(args) == 0 {
		return text
	}
	return fmt.Sprintf(text, args...)
}

// subjectOf returns the subject line of m.
func subjectOf(m *model.Mail) string {
	switch {
	case m.Kind == model.MailVerify:
		return say(m.Locale, "subject.verify")
	case m.Kind == model.MailDaily:
		return say(m.Locale, "subject.daily", len(m.Items))
	case len(m.Items) == 1:
		return say(m.Locale, "subject.instant1")
	default:
		return say(m.Locale, "subject.instant", len(m.Items))
	}
}

// headline says what one notification of a digest is about.
func headline(locale string, it model.MailItem) string {
	name := say(locale, "someone")
	if it.Actor != nil {
		name = it.Actor.DisplayName
		if name == "" {
			name = it.Actor.Username
		}
	}
	if it.Type == model.NotifySystem {
		return say(locale, "system")
	}
	return say(locale, it.Type, name)
}

// when writes a time in UTC, as the digests are sent by UTC clocks.
func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// nameOf is how the greeting names the recipient.
func nameOf(a *model.Author) string {
	if a == nil {
		return ""
	}
	if a.DisplayName != "" {
		return a.DisplayName
	}
	return a.Username
}

// lang is the HTML lang attribute of locale.
func lang(locale string) string {
	if locale == "" {
		return model.LocaleEnglish
	}
	return locale
}
