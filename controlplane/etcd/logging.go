package etcd

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"

	"go.etcd.io/etcd/client/pkg/v3/logutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newZapLogger builds the logger etcd writes to. etcd is chatty (every peer
// connection, every probe failure while a member is down), so its full log
// goes only to cfg.EtcdLog, and cfg.Log sees just its errors. Once closing is
// set, those errors are demoted to debug: etcd reports each of its listeners
// closing as an error.
func newZapLogger(cfg Config, closing *atomic.Bool) *zap.Logger {
	cores := []zapcore.Core{&slogCore{log: cfg.Log, min: zapcore.ErrorLevel, closing: closing}}
	if cfg.EtcdLog != nil {
		lvl, _ := zapcore.ParseLevel(cfg.EtcdLogLevel) // checked by validate
		enc := zapcore.NewJSONEncoder(logutil.DefaultZapLoggerConfig.EncoderConfig)
		cores = append(cores, zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(cfg.EtcdLog)), lvl))
	}
	return zap.New(zapcore.NewTee(cores...), zap.AddCaller())
}

// slogCore is a zapcore.Core that forwards records at or above min to a slog
// logger, fields as attributes; at debug level once closing is set.
type slogCore struct {
	log     *slog.Logger
	min     zapcore.Level
	closing *atomic.Bool
	fields  []zapcore.Field
}

func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= c.min }

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	clone := *c
	clone.fields = append(slices.Clip(c.fields), fields...)
	return &clone
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(slices.Clip(c.fields), fields...) {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields))
	for _, k := range slices.Sorted(maps.Keys(enc.Fields)) {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	level := slogLevel(e.Level)
	if c.closing != nil && c.closing.Load() {
		level = slog.LevelDebug
	}
	c.log.LogAttrs(context.Background(), level, e.Message, attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l >= zapcore.ErrorLevel:
		return slog.LevelError
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}
