package nfqueue

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Protocol constants of include/uapi/linux/netfilter/nfnetlink_queue.h.
const (
	msgPacket  = 0 // NFQNL_MSG_PACKET: kernel -> us
	msgVerdict = 1 // NFQNL_MSG_VERDICT
	msgConfig  = 2 // NFQNL_MSG_CONFIG

	attrPacketHdr  = 1 // NFQA_PACKET_HDR
	attrVerdictHdr = 2 // NFQA_VERDICT_HDR

	cfgCmd    = 1 // NFQA_CFG_CMD
	cfgParams = 2 // NFQA_CFG_PARAMS
	cfgMaxLen = 3 // NFQA_CFG_QUEUE_MAXLEN
	cfgMask   = 4 // NFQA_CFG_MASK
	cfgFlags  = 5 // NFQA_CFG_FLAGS

	cmdBind   = 1 // NFQNL_CFG_CMD_BIND
	cmdUnbind = 2 // NFQNL_CFG_CMD_UNBIND

	copyMeta = 1 // NFQNL_COPY_META: ids and metadata, no payload

	flagGSO = 1 << 2 // NFQA_CFG_F_GSO: whole GSO packets, not segments

	verdictAccept = 1 // NF_ACCEPT

	nlaHdrLen = 4
	nfgenLen  = 4

	nlaTypeMask = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

func msgType(t uint16) uint16 { return unix.NFNL_SUBSYS_QUEUE<<8 | t }

func align4(n int) int { return (n + 3) &^ 3 }

// attr is one netlink attribute, its value already encoded.
type attr struct {
	typ uint16
	val []byte
}

// message encodes one nfnetlink message of the queue subsystem.
func message(typ, flags uint16, seq uint32, queue uint16, attrs ...attr) []byte {
	n := unix.NLMSG_HDRLEN + nfgenLen
	for _, a := range attrs {
		n += align4(nlaHdrLen + len(a.val))
	}
	b := make([]byte, n)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(n))
	ne.PutUint16(b[4:], msgType(typ))
	ne.PutUint16(b[6:], flags)
	ne.PutUint32(b[8:], seq)
	// nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id = queue (big endian)
	binary.BigEndian.PutUint16(b[unix.NLMSG_HDRLEN+2:], queue)
	off := unix.NLMSG_HDRLEN + nfgenLen
	for _, a := range attrs {
		ne.PutUint16(b[off:], uint16(nlaHdrLen+len(a.val)))
		ne.PutUint16(b[off+2:], a.typ)
		copy(b[off+nlaHdrLen:], a.val)
		off += align4(nlaHdrLen + len(a.val))
	}
	return b
}

// bindMsg binds the queue to this socket and configures it in one message:
// metadata only (we never look at the payload), whole GSO packets, maxLen
// packets held at most.
func bindMsg(seq uint32, queue uint16, maxLen uint32) []byte {
	params := make([]byte, 5) // nfqnl_msg_config_params, packed
	binary.BigEndian.PutUint32(params, 0)
	params[4] = copyMeta
	return message(msgConfig, unix.NLM_F_REQUEST|unix.NLM_F_ACK, seq, queue,
		attr{cfgCmd, []byte{cmdBind, 0, 0, 0}},
		attr{cfgParams, params},
		attr{cfgMaxLen, be32(maxLen)},
		attr{cfgMask, be32(flagGSO)},
		attr{cfgFlags, be32(flagGSO)},
	)
}

func unbindMsg(seq uint32, queue uint16) []byte {
	return message(msgConfig, unix.NLM_F_REQUEST|unix.NLM_F_ACK, seq, queue,
		attr{cfgCmd, []byte{cmdUnbind, 0, 0, 0}})
}

// verdictMsgs encodes an ACCEPT for each id, back to back, for one send.
// Errors come back as NLMSG_ERROR without an ACK flag; no ack is asked for.
func verdictMsgs(queue uint16, ids []uint32) []byte {
	var out []byte
	for _, id := range ids {
		v := make([]byte, 8) // nfqnl_msg_verdict_hdr
		binary.BigEndian.PutUint32(v, verdictAccept)
		binary.BigEndian.PutUint32(v[4:], id)
		out = append(out, message(msgVerdict, unix.NLM_F_REQUEST, 0, queue, attr{attrVerdictHdr, v})...)
	}
	return out
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// received is what one datagram from the kernel said.
type received struct {
	ids  []uint32         // packets queued to us
	acks map[uint32]error // answers to our requests, by sequence number (nil error: done)
}

// parse reads the messages of one datagram.
func parse(b []byte) (received, error) {
	var r received
	ne := binary.NativeEndian
	for len(b) >= unix.NLMSG_HDRLEN {
		n := int(ne.Uint32(b[0:]))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			return r, fmt.Errorf("netlink message of %d bytes in %d", n, len(b))
		}
		typ, seq, body := ne.Uint16(b[4:]), ne.Uint32(b[8:]), b[unix.NLMSG_HDRLEN:n]
		switch typ {
		case unix.NLMSG_ERROR:
			if len(body) < 4 {
				return r, fmt.Errorf("short netlink error message")
			}
			if r.acks == nil {
				r.acks = map[uint32]error{}
			}
			r.acks[seq] = errno(int32(ne.Uint32(body)))
		case msgType(msgPacket):
			if id, ok := packetID(body); ok {
				r.ids = append(r.ids, id)
			}
		}
		b = b[min(align4(n), len(b)):]
	}
	return r, nil
}

func errno(e int32) error {
	if e == 0 {
		return nil
	}
	return unix.Errno(-e)
}

// packetID finds NFQA_PACKET_HDR in a packet message's attributes.
func packetID(body []byte) (uint32, bool) {
	if len(body) < nfgenLen {
		return 0, false
	}
	b := body[nfgenLen:]
	for len(b) >= nlaHdrLen {
		n := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask
		if n < nlaHdrLen || n > len(b) {
			return 0, false
		}
		if typ == attrPacketHdr && n >= nlaHdrLen+4 {
			return binary.BigEndian.Uint32(b[nlaHdrLen:]), true
		}
		b = b[min(align4(n), len(b)):]
	}
	return 0, false
}
