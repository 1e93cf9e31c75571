package etcd

import "testing"

func TestCountLeadersTakesTheLeaderMostMembersName(t *testing.T) {
	for name, tc := range map[string]struct {
		named []uint64 // 0: no answer, or no leader known
		want  leaderVote
	}{
		"all follow one":           {[]uint64{7, 7, 7}, leaderVote{7, 3}},
		"one paused":               {[]uint64{7, 0, 7}, leaderVote{7, 2}},
		"two down":                 {[]uint64{7, 0, 0}, leaderVote{7, 1}},
		"split after an election":  {[]uint64{7, 9, 9}, leaderVote{9, 2}},
		"none knows a leader":      {[]uint64{0, 0, 0}, leaderVote{}},
		"five members, three down": {[]uint64{3, 3, 0, 0, 0}, leaderVote{3, 2}},
	} {
		ch := make(chan uint64, len(tc.named))
		for _, id := range tc.named {
			ch <- id
		}
		if got := countLeaders(ch, len(tc.named)); got != tc.want {
			t.Errorf("%s: countLeaders(%v) = %+v, want %+v", name, tc.named, got, tc.want)
		}
	}
}
