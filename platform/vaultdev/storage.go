package vaultdev

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/vault/sdk/physical"
)

// maxFileName is the longest escaped key a file name can hold on common
// file systems.
const maxFileName = 255

// tempPrefix starts the names of files being written. Escaped keys never
// start with '.', so a temp file can't be mistaken for a key.
const tempPrefix = ".tmp-"

// fileStore is a physical.Backend (the layer under Vault's logical.Storage)
// kept in one directory, one file per key. The file name is the escaped key
// and the file holds the value's bytes; a write goes to a temp file that is
// synced and renamed over the old one, so a crash leaves the old value or the
// new one, never a torn file.
//
// All entries are also held in memory, read once when the store is opened;
// Get and List never touch the disk. Only one process may use a directory
// at a time. Dev only: values are stored unencrypted.
type fileStore struct {
	dir string

	mu      sync.RWMutex
	entries map[string][]byte
	closed  bool
}

var _ physical.Backend = (*fileStore)(nil)

var errStoreClosed = errors.New("storage is closed")

// openFileStore loads every entry under dir, creating dir if needed, and
// removes temp files left by an interrupted write.
func openFileStore(dir string) (*fileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	s := &fileStore{dir: dir, entries: make(map[string][]byte, len(des))}
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, tempPrefix) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("remove leftover %s: %w", name, err)
			}
			continue
		}
		if !de.Type().IsRegular() {
			return nil, fmt.Errorf("unexpected entry %q in storage directory", name)
		}
		key, err := unescapeKey(name)
		if err != nil {
			return nil, fmt.Errorf("storage file %q: %w", name, err)
		}
		value, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		s.entries[key] = value
	}
	return s, nil
}

// Put writes the entry durably before it becomes visible.
func (s *fileStore) Put(ctx context.Context, entry *physical.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, err := fileName(entry.Key)
	if err != nil {
		return err
	}
	value := slices.Clone(entry.Value)
	if value == nil {
		value = []byte{}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStoreClosed
	}
	if err := writeFileAtomic(s.dir, name, value); err != nil {
		return fmt.Errorf("put %q: %w", entry.Key, err)
	}
	s.entries[entry.Key] = value
	return nil
}

// Get returns nil, nil for a missing key.
func (s *fileStore) Get(ctx context.Context, key string) (*physical.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errStoreClosed
	}
	value, ok := s.entries[key]
	if !ok {
		return nil, nil
	}
	return &physical.Entry{Key: key, Value: slices.Clone(value)}, nil
}

// Delete succeeds for a missing key.
func (s *fileStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, err := fileName(key)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStoreClosed
	}
	if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	delete(s.entries, key)
	return nil
}

// List returns, in order, the keys that start with prefix with the prefix
// removed, cut after their next '/': "a/b/c" listed under "a/" is "b/".
// Each such folder appears once. This is the contract of Vault's own
// backends (physical/inmem): the prefix is a plain string prefix, so "foo"
// lists "foo/x" as "/" and "foobar" as "bar".
func (s *fileStore) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, errStoreClosed
	}
	var matched []string
	for k := range s.entries {
		if strings.HasPrefix(k, prefix) {
			matched = append(matched, k[len(prefix):])
		}
	}
	s.mu.RUnlock()

	slices.Sort(matched)
	var out []string
	for _, k := range matched {
		if i := strings.IndexByte(k, '/'); i >= 0 {
			k = k[:i+1]
		}
		// Sorted input puts a folder's children next to each other.
		if len(out) > 0 && out[len(out)-1] == k {
			continue
		}
		out = append(out, k)
	}
	return out, nil
}

// Close syncs the directory so that renames are on disk, and refuses
// further use.
func (s *fileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return syncDir(s.dir)
}

func writeFileAtomic(dir, name string, value []byte) error {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(value)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// fileName escapes key into a single file name: bytes other than ASCII
// letters, digits, '-' and '_' become %XX, so '/' and '.' never reach the
// file system and any key round-trips.
func fileName(key string) (string, error) {
	if key == "" {
		return "", errors.New("empty storage key")
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if isPlainByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xF])
	}
	if b.Len() > maxFileName {
		return "", fmt.Errorf("storage key %q is too long for this dev store", key)
	}
	return b.String(), nil
}

func unescapeKey(name string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case isPlainByte(c):
			b.WriteByte(c)
		case c == '%' && i+2 < len(name) && isUpperHex(name[i+1]) && isUpperHex(name[i+2]):
			b.WriteByte(unhex(name[i+1])<<4 | unhex(name[i+2]))
			i += 2
		default:
			return "", errors.New("not an escaped storage key")
		}
	}
	if b.Len() == 0 {
		return "", errors.New("empty storage key")
	}
	return b.String(), nil
}

func isPlainByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}
