package model

import "testing"

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://quiz.example.com", "https://quiz.example.com"},
		{"HTTPS://Quiz.Example.COM:443/", "https://quiz.example.com"},
		{"http://localhost:80", "http://localhost"},
		{"http://localhost:8080/", "http://localhost:8080"},
		{"https://quiz.example.com:80", "https://quiz.example.com:80"},
		{" https://[::1]:8443 ", "https://[::1]:8443"},
		{"https://user@quiz.example.com", ""},
		{"null", ""},
		{"file://", ""},
		{"ws://quiz.example.com", ""},
		{"not a url", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeOrigin(tt.in); got != tt.want {
			t.Errorf("NormalizeOrigin(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOriginsAllows(t *testing.T) {
	allowed := NewOrigins([]string{"https://quiz.example.com", "http://localhost:8080/", "HTTPS://Caps.Example.com:443", "null", ""})
	tests := []struct {
		origin string
		ok     bool
	}{
		{"https://quiz.example.com", true},
		{"https://QUIZ.example.com:443", true},
		{"http://localhost:8080", true},
		{"https://caps.example.com", true},
		{"http://quiz.example.com", false},
		{"https://quiz.example.com:8443", false},
		{"https://evil.example.com", false},
		{"https://quiz.example.com.evil.com", false},
		{"null", false},
		{"file://", false},
		{"not a url", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := allowed.Allows(tt.origin); got != tt.ok {
			t.Errorf("Allows(%q) = %v, want %v", tt.origin, got, tt.ok)
		}
	}
}
