package store

import (
	"fmt"
	"io/fs"
	"path"
	"testing/fstest"
)

// forDialect returns the migrations to run on dialect: the *.sql files at
// the root of fsys, which both engines run, together with those in the
// sub-directory named after the dialect ("postgres" or "sqlite"), which only
// that engine runs. A dialect's file may share its version number with the
// other dialect's (the same step, written twice), but not with a common
// file. Statements one engine cannot parse (a PostgreSQL exclusion
// constraint, a SQLite trigger) go there.
func forDialect(fsys fs.FS, dialect Dialect) (fs.FS, error) {
	out := fstest.MapFS{}
	add := func(dir string) error {
		names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
		if err != nil {
			return err
		}
		for _, name := range names {
			base := path.Base(name)
			if _, dup := out[base]; dup {
				return fmt.Errorf("migration %s is both common and %s-only", base, dialect)
			}
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			out[base] = &fstest.MapFile{Data: b, Mode: 0o444}
		}
		return nil
	}
	if err := add("."); err != nil {
		return nil, err
	}
	if err := add(string(dialect)); err != nil {
		return nil, err
	}
	return out, nil
}
