// The seed's endpoint in Go's net/http with encoding/json (standard library only: the seed used
// Fiber, whose modules this machine cannot download). Users are built per request, as the seed
// built them, and marshalled in field order, byte-identical to the other peers.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
)

type User struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Age    int    `json:"age"`
	City   string `json:"city"`
	Active bool   `json:"active"`
}

var first = []string{"Ada", "Alan", "Barbara", "Brian", "Claude", "Dennis", "Donald", "Edsger",
	"Frances", "Grace", "John", "Ken", "Linus", "Margaret", "Niklaus", "Radia"}
var last = []string{"Lovelace", "Turing", "Liskov", "Kernighan", "Shannon", "Ritchie", "Knuth",
	"Dijkstra", "Allen", "Hopper", "McCarthy", "Thompson", "Torvalds", "Hamilton", "Wirth", "Perlman"}
var cities = []string{"London", "Paris", "Berlin", "Lisbon", "Oslo", "Vienna", "Zurich", "Dublin"}

func lower(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(n)
	}
	return out
}

var firstLower, lastLower = lower(first), lower(last)

func getUsers() []User {
	users := make([]User, 1000)
	for i := range users {
		f, l := first[i%16], last[i/16%16]
		users[i] = User{
			ID:     i + 1,
			Name:   f + " " + l,
			Email:  firstLower[i%16] + "." + lastLower[i/16%16] + "." + strconv.Itoa(i+1) + "@example.com",
			Age:    18 + i%50,
			City:   cities[i%8],
			Active: i%3 != 0,
		}
	}
	return users
}

func main() {
	addr := "127.0.0.1:3000"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	http.HandleFunc("/api/v1/users", func(w http.ResponseWriter, r *http.Request) {
		body, err := json.Marshal(getUsers())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	fmt.Println("go net/http listening on", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
