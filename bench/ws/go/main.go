// The push server of bench/ws in Go with gorilla/websocket (the library gotify uses), built
// the way gotify's stream API is: one reader and one writer goroutine per client, a buffered
// channel per client, a map of clients per token under a mutex.
//
// GET /stream?token=T (WebSocket): messages for T and for everyone. POST /message with
// {"token": T, "message": M} or {"topic": "all", "message": M}: {"id": N} back, and
// {"id":N,"message":M} to the subscribers. A client whose channel is full is dropped.
package main

import (
	"encoding/json"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

type client struct {
	send chan []byte
}

var (
	mu     sync.Mutex
	topics = map[string]map[*client]struct{}{}
	nextID uint64
	// gorilla's default buffer sizes (4096), as gotify.
	upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
)

func validToken(t string) bool {
	if len(t) < 1 || len(t) > 64 {
		return false
	}
	for _, b := range []byte(t) {
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

func subscribe(c *client, topic string) {
	m := topics[topic]
	if m == nil {
		m = map[*client]struct{}{}
		topics[topic] = m
	}
	m[c] = struct{}{}
}

func unsubscribe(c *client, topic string) {
	if m := topics[topic]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(topics, topic)
		}
	}
}

func stream(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if !validToken(token) {
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{send: make(chan []byte, 64)}
	mu.Lock()
	subscribe(c, token)
	subscribe(c, "*")
	mu.Unlock()
	go func() {
		for msg := range c.send {
			if conn.WriteMessage(websocket.TextMessage, msg) != nil {
				break
			}
		}
		conn.Close()
	}()
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			break
		}
	}
	mu.Lock()
	unsubscribe(c, token)
	unsubscribe(c, "*")
	mu.Unlock()
	close(c.send)
}

type post struct {
	Token   *string `json:"token"`
	Topic   *string `json:"topic"`
	Message string  `json:"message"`
}

type out struct {
	ID      uint64 `json:"id"`
	Message string `json:"message"`
}

func message(w http.ResponseWriter, r *http.Request) {
	var p post
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&p) != nil {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	var topic string
	switch {
	case p.Token != nil && p.Topic == nil && validToken(*p.Token):
		topic = *p.Token
	case p.Token == nil && p.Topic != nil && *p.Topic == "all":
		topic = "*"
	default:
		http.Error(w, "give a valid token or topic all", http.StatusBadRequest)
		return
	}
	id := atomic.AddUint64(&nextID, 1)
	payload, _ := json.Marshal(out{ID: id, Message: p.Message})
	mu.Lock()
	for c := range topics[topic] {
		select {
		case c.send <- payload:
		default: // too slow: dropped, as gotify does with a full channel
		}
	}
	mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]uint64{"id": id})
}

func main() {
	addr := "127.0.0.1:8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	http.HandleFunc("/stream", stream)
	http.HandleFunc("/message", message)
	if err := http.ListenAndServe(addr, nil); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(2)
	}
}
