package org.metisfl.flink.model;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * O(1) membership over a list of learner ids that lives in a Flink POJO (contributors, reporters,
 * evaluators): the list is what state holds, in arrival order; this index is kept beside it in a
 * transient field and rebuilt from the list after a restore. Only adds go through it.
 */
public final class MemberIndex {
    private final List<String> members;
    private final Set<String> index;

    private MemberIndex(List<String> members) {
        this.members = members;
        this.index = new HashSet<>(members);
    }

    /**
     * The index of {@code list}: {@code current} if it indexes that very list, else a new one (the
     * field was reassigned, or restored from state).
     */
    public static MemberIndex of(MemberIndex current, List<String> list) {
        return current != null && current.members == list ? current : new MemberIndex(list);
    }

    public boolean contains(String id) {
        return index.contains(id);
    }

    /** Appends {@code id} unless it is already a member; true if it was added. */
    public boolean add(String id) {
        if (!index.add(id)) {
            return false;
        }
        members.add(id);
        return true;
    }
}
