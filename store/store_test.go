package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newStore(t *testing.T) *store.Store {
	t.Helper()
	return store.New(pgtest.New(t))
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	applied, err := store.Migrate(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %v, want nothing", applied)
	}
}

func TestUpsertUserIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	s, ctx := newStore(t), context.Background()
	a, err := s.UpsertUser(ctx, "0x52908400098527886E0F7030069857D2E4169EE7")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.UpsertUser(ctx, "0x52908400098527886e0f7030069857d2e4169ee7")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID {
		t.Fatalf("same wallet got two users: %d and %d", a.ID, b.ID)
	}
	if _, err := s.UpsertUser(ctx, "0xnothex"); err == nil {
		t.Fatal("invalid address accepted")
	}
}

func TestNonceIsSingleUseUnderConcurrency(t *testing.T) {
	t.Parallel()
	s, ctx := newStore(t), context.Background()
	if _, err := s.CreateNonce(ctx, "abcdefgh12345678", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateNonce(ctx, "abcdefgh12345678", time.Minute); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate nonce: got %v, want ErrConflict", err)
	}
	var wg sync.WaitGroup
	results := make(chan bool, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.ConsumeNonce(ctx, "abcdefgh12345678")
			if err != nil {
				t.Error(err)
			}
			results <- ok
		}()
	}
	wg.Wait()
	close(results)
	wins := 0
	for ok := range results {
		if ok {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("nonce consumed %d times, want exactly 1", wins)
	}
	if ok, _ := s.ConsumeNonce(ctx, "neverissued1"); ok {
		t.Fatal("unknown nonce consumed")
	}
}

func TestExpiredNonceCannotBeConsumed(t *testing.T) {
	t.Parallel()
	s, ctx := newStore(t), context.Background()
	if _, err := s.CreateNonce(ctx, "expired00000", -time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.ConsumeNonce(ctx, "expired00000"); ok {
		t.Fatal("expired nonce consumed")
	}
	n, err := s.DeleteExpired(ctx)
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1, nil", n, err)
	}
}

func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	s, ctx := newStore(t), context.Background()
	u, err := s.UpsertUser(ctx, "0x52908400098527886E0F7030069857D2E4169EE7")
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.CreateSession(ctx, u.ID, time.Hour, "", "test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := s.SessionUser(ctx, first)
	if err != nil || got.ID != u.ID {
		t.Fatalf("SessionUser = %v, %v", got, err)
	}
	// Signing in again rotates: the old cookie stops working.
	second, err := s.CreateSession(ctx, u.ID, time.Hour, first, "test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if first == second {
		t.Fatal("session ID not rotated")
	}
	if _, _, err := s.SessionUser(ctx, first); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old session still valid: %v", err)
	}
	if err := s.DeleteSession(ctx, second); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SessionUser(ctx, second); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session valid after sign-out: %v", err)
	}
	expired, _ := s.CreateSession(ctx, u.ID, -time.Second, "", "", "")
	if _, _, err := s.SessionUser(ctx, expired); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session valid: %v", err)
	}
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	s, ctx := newStore(t), context.Background()
	alice, _ := s.UpsertUser(ctx, "0x52908400098527886E0F7030069857D2E4169EE7")
	bob, _ := s.UpsertUser(ctx, "0x8617E340B3D01FA5F11F306F4090FD50E238070D")
	tok, secret, err := s.CreateAPIToken(ctx, alice.ID, "ci", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.APITokenUser(ctx, secret); err != nil || got.ID != alice.ID {
		t.Fatalf("APITokenUser = %v, %v", got, err)
	}
	if _, err := s.APITokenUser(ctx, secret+"x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("wrong secret accepted: %v", err)
	}
	if err := s.RevokeAPIToken(ctx, bob.ID, tok.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob revoked alice's token: %v", err)
	}
	list, _ := s.APITokens(ctx, alice.ID)
	if len(list) != 1 || list[0].LastUsedAt == nil || list[0].Prefix != secret[:len(list[0].Prefix)] {
		t.Fatalf("tokens = %+v", list)
	}
	if err := s.RevokeAPIToken(ctx, alice.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.APITokenUser(ctx, secret); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked token accepted: %v", err)
	}
	_, expiredSecret, _ := s.CreateAPIToken(ctx, alice.ID, "old", time.Nanosecond)
	time.Sleep(10 * time.Millisecond)
	if _, err := s.APITokenUser(ctx, expiredSecret); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired token accepted: %v", err)
	}
}

func TestRolesAndCounts(t *testing.T) {
	t.Parallel()
	s, ctx := newStore(t), context.Background()
	u, _ := s.UpsertUser(ctx, "0x52908400098527886E0F7030069857D2E4169EE7")
	if err := s.GrantRole(ctx, u.ID, store.RoleLabeler, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.GrantRole(ctx, u.ID, store.RoleLabeler, nil); err != nil {
		t.Fatalf("second grant: %v", err)
	}
	if err := s.GrantRole(ctx, u.ID, "king", nil); err == nil {
		t.Fatal("unknown role granted")
	}
	got, _ := s.UserByID(ctx, u.ID)
	if len(got.Roles) != 1 || got.Roles[0] != store.RoleLabeler {
		t.Fatalf("roles = %v", got.Roles)
	}
	c, err := s.DashboardCounts(ctx, u.ID)
	if err != nil || c.Users != 1 {
		t.Fatalf("counts = %+v, %v", c, err)
	}
	jobs, err := s.JobCounts(ctx)
	if err != nil || len(jobs) < 7 {
		t.Fatalf("job counts = %v, %v", jobs, err)
	}
}
