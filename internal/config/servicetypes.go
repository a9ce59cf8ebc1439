package config

import "time"

// ServiceType is a named set of pool settings for one kind of service: its
// pool size (connection_limit), acquire timeout (pool_timeout), idle
// timeout, priority and connection pattern.
type ServiceType struct {
	Name        string
	Description string
	Pool        Overrides
}

// serviceTypes are the lesson's microservice pool configurations. The
// lesson names payment_service and order_service without values; theirs are
// motorpool's: payments are high priority and steady, with a short acquire
// timeout so a stuck checkout fails fast; orders come in bursts (checkout
// peaks) at medium priority.
var serviceTypes = []ServiceType{
	serviceType("api_gateway", "front door: many short requests in bursts", 30, 10*time.Second, 300*time.Second, PriorityHigh, PatternBurst),
	serviceType("user_service", "user accounts: steady reads and writes", 15, 15*time.Second, 600*time.Second, PriorityMedium, PatternSteady),
	serviceType("notification_service", "notifications: periodic batches", 5, 30*time.Second, 900*time.Second, PriorityLow, PatternBatch),
	serviceType("analytics_service", "analytics: few long-running queries", 8, 60*time.Second, 1800*time.Second, PriorityLow, PatternLongRunning),
	serviceType("payment_service", "payments: steady, must not starve", 10, 5*time.Second, 600*time.Second, PriorityHigh, PatternSteady),
	serviceType("order_service", "orders: bursts around checkout peaks", 20, 10*time.Second, 300*time.Second, PriorityMedium, PatternBurst),
}

func serviceType(name, desc string, size int, acquire, idle time.Duration, prio Priority, pattern ConnectionPattern) ServiceType {
	return ServiceType{Name: name, Description: desc, Pool: Overrides{
		ConnectionLimit: some(size),
		PoolTimeout:     some(acquire),
		IdleTimeout:     some(idle),
		Priority:        some(prio),
		Pattern:         some(pattern),
	}}
}

// ServiceTypes returns the built-in service types in documented order.
func ServiceTypes() []ServiceType { return append([]ServiceType(nil), serviceTypes...) }

// LookupServiceType returns the built-in service type with the given name.
func LookupServiceType(name string) (ServiceType, bool) {
	for _, t := range serviceTypes {
		if t.Name == name {
			return t, true
		}
	}
	return ServiceType{}, false
}

func serviceTypeNames() []string {
	names := make([]string, len(serviceTypes))
	for i, t := range serviceTypes {
		names[i] = t.Name
	}
	return names
}
