package main

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchFile calls onChange, at most once per quiet period, when file changes. It
// watches the file's directory, so editors that replace the file by renaming a new
// one over it are seen. When file is a symlink it also watches the directory of the
// file it points to, so an edit there is seen, and a change of where it points (a
// Kubernetes ConfigMap swapping its ..data link) counts as a change. The returned
// stop function ends the watch and waits for it.
func watchFile(file string, onChange func()) (stop func(), err error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return func() {}, err
	}
	name := filepath.Clean(file)
	if err := w.Add(filepath.Dir(name)); err != nil {
		w.Close()
		return func() {}, err
	}
	target := resolveLink(name)
	watchDirOf := func(t string) {
		if filepath.Dir(t) != filepath.Dir(name) {
			w.Add(filepath.Dir(t)) // best effort: the file's own directory is watched
		}
	}
	watchDirOf(target)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var timer <-chan time.Time
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				now := resolveLink(name)
				moved := now != target
				if moved {
					target = now
					watchDirOf(now)
				}
				evName := filepath.Clean(ev.Name)
				written := ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0
				if moved || written && (evName == name || evName == target) {
					timer = time.After(200 * time.Millisecond)
				}
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
			case <-timer:
				timer = nil
				onChange()
			}
		}
	}()
	return func() { w.Close(); wg.Wait() }, nil
}

// resolveLink returns the file name points to after every symlink, or name
// itself when it cannot be resolved (it is being replaced, say).
func resolveLink(name string) string {
	if t, err := filepath.EvalSymlinks(name); err == nil {
		return filepath.Clean(t)
	}
	return name
}
