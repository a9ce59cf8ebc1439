// Package demo is what `motorpool demo` runs: a short mixed workload, driven
// through a running motorpool by several simulated services, with a live line
// per pool every few seconds and a summary at the end.
//
// The services are the kinds of client the connection-pooling lesson names,
// each logging in with its own application_name so that the configuration
// written by [WriteConfig] gives it its own pool:
//
//   - web-api (api_gateway): many clients that fire short transactions in
//     bursts, more at once than its pool has connections, so some wait;
//   - users (user_service): a few steady clients with small read/write
//     transactions;
//   - analytics (analytics_service): slow report queries holding their
//     connections for seconds;
//   - batch (notification_service): a job that loads thousands of rows with
//     COPY in one transaction every few seconds.
//
// [Prepare] creates the tables they use. [Run] owns every client goroutine and
// returns once all have stopped.
package demo
