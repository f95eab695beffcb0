package httpapi

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// rateLimiter keeps a token bucket per client: rate requests a second on
// average, bursts of burst. Idle clients are forgotten once the table is
// large, so that its size stays bounded whatever the number of clients.
type rateLimiter struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the clients remembered at once.
const maxBuckets = 10_000

func newRateLimiter(rate, burst float64) *rateLimiter {
	return &rateLimiter{rate: rate, burst: burst, now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes one token of client key's bucket, or says how long to wait
// for one.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.forgetIdle(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// forgetIdle drops the buckets that have refilled (their clients are as
// new), and if none has, half of the table.
func (l *rateLimiter) forgetIdle(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < maxBuckets/2 {
			break
		}
		delete(l.buckets, k)
	}
}

// limited refuses a request over its client's budget with 429, an
// OperationOutcome and Retry-After.
func (s *Server) limited(w http.ResponseWriter, r *http.Request, l *rateLimiter, key string) bool {
	ok, wait := l.allow(key)
	if ok {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	s.writeError(w, r, &carnet.Error{Kind: carnet.KindRateLimited, Msg: "too many requests from this client; retry later"})
	return true
}

// clientKey names the client of a request for its budget: the actor when
// authenticated, else the remote address.
func clientKey(r *http.Request, a *carnet.Actor) string {
	if a != nil {
		return string(a.Kind) + "|" + a.ID.System + "|" + a.ID.Value
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr|" + host
}
