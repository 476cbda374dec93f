// Package dbtest opens a fresh database, migrated with the real migrations,
// for one test. In order of preference it uses:
//
//  1. the MySQL server of DISCUSS_TEST_MYSQL_DSN (CI sets it to MariaDB),
//     creating a database with a random name and dropping it afterwards;
//  2. a MySQL container started through testcontainers when a Docker engine
//     answers, shared by the tests of one package;
//  3. a temporary SQLite file.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/testcontainers/testcontainers-go"
	tcmysql "github.com/testcontainers/testcontainers-go/modules/mysql"
	"gorm.io/gorm"

	"github.com/quizsite/discuss/migrations"
	"github.com/quizsite/discuss/service"
)

// DB is a migrated database for one test.
type DB struct {
	*gorm.DB
	Driver string // "mysql" or "sqlite"
	DSN    string // what service.OpenDB was given, for tests that start the binary
}

// Open returns a fresh migrated database that is closed and removed when the
// test ends.
func Open(t testing.TB) *DB {
	t.Helper()
	d := OpenEmpty(t)
	m, err := migrations.New(mustSQL(t, d.DB), d.Driver)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// MigrateTo migrates d, opened empty, up to version and then runs stmts:
// rows in the schema of that version, for tests of what later migrations
// make of them. It returns the Migrator to go on with.
func (d *DB) MigrateTo(t testing.TB, version int64, stmts ...string) *migrations.Migrator {
	t.Helper()
	m, err := migrations.New(mustSQL(t, d.DB), d.Driver)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.UpTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range stmts {
		if err := d.Exec(stmt).Error; err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return m
}

// OpenEmpty is Open without the migrations, for tests of the migrations
// themselves.
func OpenEmpty(t testing.TB) *DB {
	t.Helper()
	if root := MySQLRootDSN(t); root != "" {
		return openMySQL(t, root)
	}
	return OpenEmptySQLite(t)
}

// OpenEmptySQLite is OpenEmpty on SQLite whatever MySQL is available, for
// tests that must cover the SQLite dialect in CI too.
func OpenEmptySQLite(t testing.TB) *DB {
	t.Helper()
	return open(t, "sqlite", filepath.Join(t.TempDir(), "discuss.db"))
}

// MySQLRootDSN returns the DSN of a MySQL server on which tests may create
// databases, or "" when none can be had and tests should use SQLite.
func MySQLRootDSN(t testing.TB) string {
	if dsn := os.Getenv("DISCUSS_TEST_MYSQL_DSN"); dsn != "" {
		return dsn
	}
	return containerDSN(t)
}

func openMySQL(t testing.TB, rootDSN string) *DB {
	t.Helper()
	cfg, err := mysqldriver.ParseDSN(rootDSN)
	if err != nil {
		t.Fatalf("DISCUSS_TEST_MYSQL_DSN: %v", err)
	}
	root := open(t, "mysql", rootDSN)
	name := "discuss_test_" + randomHex(6)
	if err := root.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci").Error; err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if err := root.Exec("DROP DATABASE IF EXISTS " + name).Error; err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return open(t, "mysql", cfg.FormatDSN())
}

func open(t testing.TB, driver, dsn string) *DB {
	t.Helper()
	db, err := service.OpenDB(context.Background(), service.DBConfig{
		Driver: driver, DSN: dsn, MaxOpenConns: 16, MaxIdleConns: 16, ConnMaxLifetime: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	return &DB{DB: db, Driver: driver, DSN: dsn}
}

func mustSQL(t testing.TB, db *gorm.DB) *sql.DB {
	t.Helper()
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	return sqlDB
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// The container is started at most once per test binary, since starting
// MySQL takes many seconds; Ryuk removes it when the binary exits.
var container struct {
	once sync.Once
	dsn  string
}

func containerDSN(t testing.TB) string {
	container.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if !dockerAnswers(ctx) {
			return
		}
		c, err := tcmysql.Run(ctx, "mysql:8.4", tcmysql.WithDatabase("discuss"),
			tcmysql.WithUsername("root"), tcmysql.WithPassword("discuss"))
		if err != nil {
			t.Logf("dbtest: no MySQL container (%v); using SQLite", err)
			return
		}
		dsn, err := c.ConnectionString(ctx)
		if err != nil {
			t.Logf("dbtest: no MySQL container (%v); using SQLite", err)
			return
		}
		container.dsn = dsn
	})
	return container.dsn
}

// dockerAnswers asks the Docker engine for its health without letting
// testcontainers panic or log when there is none.
func dockerAnswers(ctx context.Context) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return false
	}
	defer p.Close()
	return p.Health(ctx) == nil
}

// FailInserts makes every insert into table fail inside the database, with
// an error message naming the table, until heal is called: a failure
// wherever in a transaction, or in a multi-statement query, the insert
// comes, as a broken database would give it. The trigger goes with the
// test's database.
func (d *DB) FailInserts(t testing.TB, table string) (heal func()) {
	t.Helper()
	name := "test_fail_" + table
	create := "CREATE TRIGGER " + name + " BEFORE INSERT ON " + table +
		" FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure: " + table + "'"
	if d.Driver == "sqlite" {
		create = "CREATE TRIGGER " + name + " BEFORE INSERT ON " + table +
			" BEGIN SELECT RAISE(ABORT, 'injected failure: " + table + "'); END"
	}
	if err := d.Exec(create).Error; err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := d.Exec("DROP TRIGGER " + name).Error; err != nil {
			t.Error(err)
		}
	}
}
