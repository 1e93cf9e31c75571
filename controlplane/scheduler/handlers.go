package scheduler

import (
	"maps"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/cache"
)

// Informer event handlers: they keep the cache current and tell the queue
// which pods to (re)consider. They never call the API.

func (s *scheduler) nodeHandler() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if n, ok := obj.(*v1.Node); ok {
				s.cache.setNode(n)
				s.queue.Moved(eventNode)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(*v1.Node)
			n, ok2 := newObj.(*v1.Node)
			if !ok1 || !ok2 {
				return
			}
			s.cache.setNode(n)
			if nodeChangeMatters(old, n) {
				s.queue.Moved(eventNode)
			}
		},
		DeleteFunc: func(obj any) {
			if n, ok := unwrap(obj).(*v1.Node); ok {
				s.cache.removeNode(n.Name)
			}
		},
	}
}

// nodeChangeMatters tells whether a node update changes what the filters
// read; heartbeats and image lists do not.
func nodeChangeMatters(old, n *v1.Node) bool {
	return !equality.Semantic.DeepEqual(old.Status.Allocatable, n.Status.Allocatable) ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, n.Spec.Taints) ||
		!maps.Equal(old.Labels, n.Labels) ||
		old.Spec.Unschedulable != n.Spec.Unschedulable ||
		readyStatus(old) != readyStatus(n)
}

func (s *scheduler) podHandler() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if p, ok := obj.(*v1.Pod); ok {
				s.podChanged(nil, p)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(*v1.Pod)
			p, ok2 := newObj.(*v1.Pod)
			if ok1 && ok2 {
				s.podChanged(old, p)
			}
		},
		DeleteFunc: func(obj any) {
			if p, ok := unwrap(obj).(*v1.Pod); ok {
				s.podDeleted(p)
			}
		},
	}
}

// podChanged handles an added (old is nil) or updated pod.
func (s *scheduler) podChanged(old, p *v1.Pod) {
	key := podKey(p)
	switch {
	case p.Spec.NodeName != "":
		s.queue.Delete(key)
		s.cache.denominate(key)
		s.cache.setPod(p)
		if ev := boundPodEvent(old, p); ev != 0 {
			s.queue.Moved(ev)
		}
	case !s.pending(p):
		s.queue.Delete(key)
		s.cache.denominate(key)
	case old != nil && podSpecChanged(old, p):
		s.cache.nominated(p)
		s.queue.Updated(key, podPriority(p))
	default:
		s.cache.nominated(p)
		s.queue.Add(key, podPriority(p))
	}
}

func (s *scheduler) podDeleted(p *v1.Pod) {
	s.queue.Delete(podKey(p))
	s.cache.denominate(podKey(p))
	if s.cache.removePod(p) {
		s.queue.Moved(eventPodFreed)
	}
}

// boundPodEvent tells what an update of a bound pod may do for parked pods.
func boundPodEvent(old, p *v1.Pod) clusterEvent {
	switch {
	case terminal(p):
		return eventPodFreed
	case old == nil || old.Spec.NodeName == "":
		return eventPodAssigned
	case !maps.Equal(old.Labels, p.Labels):
		return eventPodAssigned | eventPodFreed // anti-affinity may no longer match
	case !equality.Semantic.DeepEqual(old.Spec.Containers, p.Spec.Containers):
		return eventPodFreed // resized
	}
	return 0
}

// pending tells whether p waits for this scheduler.
func (s *scheduler) pending(p *v1.Pod) bool {
	name := p.Spec.SchedulerName
	if name == "" {
		name = v1.DefaultSchedulerName // the API server's default
	}
	return p.Spec.NodeName == "" && name == s.cfg.SchedulerName && p.DeletionTimestamp == nil && !terminal(p)
}

// podSpecChanged tells whether an update of a pending pod may change the
// decision; status updates (our own condition patches among them) do not.
func podSpecChanged(old, p *v1.Pod) bool {
	return !maps.Equal(old.Labels, p.Labels) || !equality.Semantic.DeepEqual(old.Spec, p.Spec)
}

func (s *scheduler) namespaceHandler() cache.ResourceEventHandlerFuncs {
	refresh := func() {
		namespaces, err := s.nsLister.List(everything)
		if err != nil {
			s.log.Error("list namespaces from the cache", "err", err)
			return
		}
		s.cache.setNamespaces(namespaces)
		s.queue.Moved(eventNamespace)
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { refresh() },
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(*v1.Namespace)
			ns, ok2 := newObj.(*v1.Namespace)
			if ok1 && ok2 && !maps.Equal(old.Labels, ns.Labels) {
				refresh()
			}
		},
		DeleteFunc: func(any) { refresh() },
	}
}

// unwrap returns the last known object of a deletion the informer missed.
func unwrap(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

// volumeHandler retries the pods parked for their volumes when a claim, a
// PersistentVolume or a StorageClass comes or changes.
func (s *scheduler) volumeHandler() cache.ResourceEventHandlerFuncs {
	moved := func(any) { s.queue.Moved(eventVolume) }
	return cache.ResourceEventHandlerFuncs{AddFunc: moved, UpdateFunc: func(_, obj any) { moved(obj) }}
}
