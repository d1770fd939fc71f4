package ociimage

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// resolve gives dir joined with p, or p when it is absolute, cleaned.
func resolve(dir, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(dir, p)
}

// numericUser reports whether u is uid or uid:gid in decimal.
func numericUser(u string) bool {
	uid, gid, hasGroup := strings.Cut(u, ":")
	digits := func(s string) bool {
		_, err := strconv.ParseUint(s, 10, 32)
		return err == nil
	}
	return digits(uid) && (!hasGroup || digits(gid))
}

// exposedPort returns EXPOSE's port[/protocol] as the image config names
// it: "8080/tcp".
func exposedPort(p string) (string, error) {
	port, proto, ok := strings.Cut(p, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return "", fmt.Errorf("protocol %q: want tcp, udp or sctp", proto)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", fmt.Errorf("want a port number from 1 to 65535 (ranges are not supported)")
	}
	return strconv.FormatUint(n, 10) + "/" + proto, nil
}

// isAssignment reports whether w is NAME=value with NAME a shell variable
// name.
func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for i, c := range name {
		if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// parseEnv reads ENV's KEY=value ... form (values may be quoted) or its
// older KEY value form.
func parseEnv(args string) ([]string, error) {
	if i := strings.IndexAny(args, " \t"); i >= 0 && !strings.Contains(args[:i], "=") {
		key, value := args[:i], strings.TrimSpace(args[i:])
		if !isAssignment(key+"=") || strings.ContainsAny(value, "\"'\\$`") {
			return nil, fmt.Errorf("write KEY=value (quotes, escapes and expansions need that form, and expansions are not supported)")
		}
		return []string{key + "=" + value}, nil
	}
	words, err := shellWords(args)
	if err != nil {
		return nil, err
	}
	for _, w := range words {
		if !isAssignment(w) {
			return nil, fmt.Errorf("%q is not KEY=value", w)
		}
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("nothing to set")
	}
	return words, nil
}

// setEnv sets each KEY=value of kv in env, replacing an earlier value of
// the same key in place.
func setEnv(env, kv []string) []string {
	for _, e := range kv {
		key, _, _ := strings.Cut(e, "=")
		i := slices.IndexFunc(env, func(old string) bool { return strings.HasPrefix(old, key+"=") })
		if i >= 0 {
			env[i] = e
		} else {
			env = append(env, e)
		}
	}
	return env
}

// shellWords splits s as sh splits a simple command without expansions:
// blanks separate words, single and double quotes group them. Whatever sh
// would expand or read as an operator is an error, so that a line means the
// same here as in a container.
func shellWords(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated %c quote", c)
			}
			part := s[i+1 : i+1+j]
			if c == '"' && strings.ContainsAny(part, "$`\\") {
				return nil, fmt.Errorf("expansion or escape inside %q", part)
			}
			cur.WriteString(part)
			i += j + 1
			inWord = true
		case strings.IndexByte("$`\\;&|<>(){}*?[]", c) >= 0, (c == '#' || c == '~') && !inWord:
			return nil, fmt.Errorf("shell syntax %q is not supported", c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
