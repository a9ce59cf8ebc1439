package main

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchFile calls onChange, at most once per quiet period, when file changes. It
// watches the file's directory, so editors that replace the file by renaming a new
// one over it are seen. The returned stop function ends the watch and waits for it.
func watchFile(file string, onChange func()) (stop func(), err error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return func() {}, err
	}
	if err := w.Add(filepath.Dir(file)); err != nil {
		w.Close()
		return func() {}, err
	}
	name := filepath.Clean(file)
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
				if filepath.Clean(ev.Name) == name && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
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
